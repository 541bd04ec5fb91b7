"""Evaluation speed: compiled `.rules` (fused triggers) against hand-written Python, same readings.

1,000 things x 15 rules (10 threshold alarms, 5 formulas over 2-4 inputs), 1,000,000 readings from a
fixed seed; each reading re-evaluates only the rules that read the changed path. Also times checking and
compiling 10,000 rules. Ends with one JSON line.
"""

from __future__ import annotations

import json
import random
import time
from typing import Any

from centinela.dsl.compile import compile_checked
from centinela.dsl.pipeline import check_source
from centinela.dsl.program import ALL, NodeKind

THINGS = 1_000
READINGS = 1_000_000
SEED = 20261129
ROUNDS = 3
P = [f"/features/x/properties/p{i}" for i in range(10)]
LIMITS = [50.0 + i for i in range(10)]
BAR_PER_PSI = 0.0689475729316836

RULES = (
    'twins Unit = things "org.acme.bench:*"\n'
    "units Unit { x.p0, x.p1 : psi }\n"
    + "".join(f"alarm Unit A{i} when x.p{i} > {LIMITS[i]}\n" for i in range(10))
    + "compute Unit calc.c0 : bar = x.p0 * 0.5 + x.p1 * 2\n"
    "compute Unit calc.c1 = (x.p2 + x.p3) / 2 - x.p4\n"
    "compute Unit calc.c2 = max(x.p5, x.p6) * 1.5\n"
    "compute Unit calc.c3 = x.p7 + x.p8 + x.p9 - x.p0\n"
    "compute Unit calc.c4 = if x.p1 > x.p3 then x.p5 else -x.p5\n"
)


class Ctx:
    """The minimal EvalContext the triggers need (no windows in these rules)."""

    __slots__ = ("now", "values")

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values
        self.now = 0.0

    def series(self, key: str) -> Any:
        raise KeyError(key)


def hand_written() -> dict[str, Any]:
    """What an engineer would write by hand: one function per input path, None for a missing value."""
    c0k, c1k, c2k, c3k, c4k = (f"/features/calc/properties/c{j}" for j in range(5))
    p = P

    def alarm(i: int) -> Any:
        key, limit = p[i], LIMITS[i]

        def f(vals: dict[str, Any]) -> list[tuple[int, Any]]:
            v = vals.get(key)
            return [(i, None if v is None else v > limit)]

        return f

    def c0(vals: dict[str, Any]) -> Any:
        a, b = vals.get(p[0]), vals.get(p[1])
        r = None if a is None or b is None else (a * 0.5 + b * 2) * BAR_PER_PSI
        vals[c0k] = r
        return r

    def c1(vals: dict[str, Any]) -> Any:
        a, b, c = vals.get(p[2]), vals.get(p[3]), vals.get(p[4])
        r = None if a is None or b is None or c is None else (a + b) / 2 - c
        vals[c1k] = r
        return r

    def c2(vals: dict[str, Any]) -> Any:
        a, b = vals.get(p[5]), vals.get(p[6])
        r = None if a is None or b is None else max(a, b) * 1.5
        vals[c2k] = r
        return r

    def c3(vals: dict[str, Any]) -> Any:
        a, b, c, d = vals.get(p[7]), vals.get(p[8]), vals.get(p[9]), vals.get(p[0])
        r = None if a is None or b is None or c is None or d is None else a + b + c - d
        vals[c3k] = r
        return r

    def c4(vals: dict[str, Any]) -> Any:
        a, b, c = vals.get(p[1]), vals.get(p[3]), vals.get(p[5])
        if a is None or b is None or c is None:
            r = None
        else:
            r = c if a > b else -c
        vals[c4k] = r
        return r

    formulas = {
        0: [(10, c0), (13, c3)],
        1: [(10, c0), (14, c4)],
        2: [(11, c1)],
        3: [(11, c1), (14, c4)],
        4: [(11, c1)],
        5: [(12, c2), (14, c4)],
        6: [(12, c2)],
        7: [(13, c3)],
        8: [(13, c3)],
        9: [(13, c3)],
    }
    handlers = {}
    for i in range(10):
        first, deps = alarm(i), formulas[i]

        def handle(vals: dict[str, Any], first: Any = first, deps: Any = deps) -> list[tuple[int, Any]]:
            out = first(vals)
            for idx, fn in deps:
                out.append((idx, fn(vals)))
            return out

        handlers[p[i]] = handle
    return handlers


def run_compiled(
    readings: list[tuple[int, int, float]], start: list[dict[str, Any]]
) -> tuple[float, int, float]:
    cls = compile_checked(check_source(RULES).checked).classes["Unit"]
    is_alarm = [n.kind is NodeKind.ALARM for n in cls.nodes]
    triggers = [cls.triggers[k] for k in P]
    ctxs = [Ctx(dict(v)) for v in start]
    for c in ctxs:
        cls.triggers[ALL](c)
    true_count, checksum = 0, 0.0
    t0 = time.perf_counter()
    for thing, path, value in readings:
        ctx = ctxs[thing]
        ctx.values[P[path]] = value
        for i, v in triggers[path](ctx):
            if is_alarm[i]:
                if v is True:
                    true_count += 1
            else:
                checksum += v
    return time.perf_counter() - t0, true_count, checksum


def run_baseline(
    readings: list[tuple[int, int, float]], start: list[dict[str, Any]]
) -> tuple[float, int, float]:
    handlers = hand_written()
    table = [handlers[k] for k in P]
    vals = [dict(v) for v in start]
    true_count, checksum = 0, 0.0
    t0 = time.perf_counter()
    for thing, path, value in readings:
        d = vals[thing]
        d[P[path]] = value
        for i, v in table[path](d):
            if i < 10:
                if v is True:
                    true_count += 1
            else:
                checksum += v
    return time.perf_counter() - t0, true_count, checksum


def compile_many(n_rules: int = 10_000, classes: int = 10) -> tuple[float, float, float]:
    """Seconds to check, to load (functions compiled on first use) and to compile every function."""
    per = n_rules // classes
    parts = []
    for c in range(classes):
        parts.append(f'twins C{c} = things "org.acme.c{c}:*"\nunits C{c} {{ s.v0, s.v1 : psi }}\n')
        for r in range(per):
            if r % 3 == 0:
                parts.append(f"compute C{c} out.o{r} : bar = s.v{r % 50} * {r % 7 + 1} + s.v{(r + 1) % 50}\n")
            else:
                parts.append(f"alarm C{c} A{r} severity high when s.v{r % 50} > {r} for 30s\n")
    text = "".join(parts)
    t0 = time.perf_counter()
    result = check_source(text, "many.rules")
    t1 = time.perf_counter()
    assert not result.errors, result.errors[:3]
    program = compile_checked(result.checked)
    t2 = time.perf_counter()
    compile_checked(result.checked, eager=True)
    t3 = time.perf_counter()
    assert sum(len(c.nodes) for c in program.classes.values()) == n_rules
    return t1 - t0, t2 - t1, t3 - t2


def main() -> None:
    rng = random.Random(SEED)
    start = [{k: rng.uniform(0, 100) for k in P} for _ in range(THINGS)]
    readings = [(rng.randrange(THINGS), rng.randrange(10), rng.uniform(0, 100)) for _ in range(READINGS)]
    # interleaved rounds, best of each: the machine's load changes between runs
    base_s = ours_s = float("inf")
    for _ in range(ROUNDS):
        seconds, base_true, base_sum = run_baseline(readings, start)
        base_s = min(base_s, seconds)
        seconds, ours_true, ours_sum = run_compiled(readings, start)
        ours_s = min(ours_s, seconds)
    assert ours_true == base_true, (ours_true, base_true)
    assert abs(ours_sum - base_sum) <= 1e-9 * max(1.0, abs(base_sum)), (ours_sum, base_sum)
    ours, base = READINGS / ours_s, READINGS / base_s
    check_s, load_s, eager_s = compile_many()
    print(f"hand-written: {base:,.0f} readings/s ({base_s:.2f} s, best of {ROUNDS})")
    print(f"compiled    : {ours:,.0f} readings/s ({ours_s:.2f} s, best of {ROUNDS}), ratio {ours / base:.2f}")
    print(f"agree       : {ours_true} conditions true, checksum {ours_sum:.6g}")
    print(f"10,000 rules: check {check_s:.2f} s, load {load_s:.2f} s, compile every function {eager_s:.2f} s")
    figures = {
        "bench": "eval",
        "ours_per_s": round(ours),
        "baseline_per_s": round(base),
        "ratio": round(ours / base, 3),
        "conditions_true": ours_true,
        "check_10k_rules_s": round(check_s, 3),
        "load_10k_rules_s": round(load_s, 3),
        "compile_all_10k_rules_s": round(eager_s, 3),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
