"""Random well-typed rules with units, windows and edges: checking never raises, and whatever checks
clean compiles eagerly and evaluates to plain values (an EvalError at worst, never an exception)."""

from __future__ import annotations

import random
import sys
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parents[1] / "unit" / "dsl"))

from dsl_memory_context import MemoryContext  # noqa: E402

from centinela.dsl import check_source  # noqa: E402
from centinela.dsl.compile import compile_checked  # noqa: E402
from centinela.dsl.program import MISSING, EvalError  # noqa: E402

HEAD = (
    'twins W = definition "x:*"\n'
    "units W { a.p, a.q : psi  a.f : bbl/d  t.f : degF  a.s : % }\n"
    "let W.lim = attributes.lim ?? 100 psi\nlet W.k = attributes.k ?? 7\n"
)
LEAVES = {
    "psi": ["a.p", "a.q", "lim", "100 psi", "5 bar"],
    "bbl/d": ["a.f", "10 bbl/d", "1 bpm"],
    "1": ["a.n", "a.m", "k", "3", "0", "-2", "0.5", "attributes.x", "missing", "30%", "a.s"],
}
DECLARED = {"psi": [" : bar", ""], "bbl/d": [" : m^3/d", ""], "1": ["", " : %"]}
VALUES = {
    "/features/a/properties/p": 50.0, "/features/a/properties/q": 0.0, "/features/a/properties/f": 10.0,
    "/features/a/properties/n": -1.5, "/features/a/properties/m": 4.0, "/features/a/properties/s": 20.0,
    "/features/t/properties/f": 100.0, "attributes:x": 3,
}  # fmt: skip


class Gen:
    """A small generator of well-typed expressions (numbers in one unit family, or conditions)."""

    def __init__(self, rng: random.Random) -> None:
        self.r = rng

    def num(self, u: str, d: int = 0) -> str:
        r, c = self.r.random(), self.r.choice
        if d > 3 or r < 0.3:
            return c(LEAVES[u])
        if r < 0.5:
            return f"({self.num(u, d + 1)} {c(['+', '-'])} {self.num(u, d + 1)})"
        if r < 0.6:
            return f"({self.num(u, d + 1)} {c(['*', '/'])} {self.num('1', d + 1)})"
        if r < 0.66 and u == "1":
            return f"({self.num('1', d + 1)} {c(['%', '**', '/'])} {self.num('1', d + 1)})"
        if r < 0.7 and u == "1":
            return f"({self.num('psi', d + 1)} / {self.num('psi', d + 1)})"
        if r < 0.74:
            return f"({self.num(u, d + 1)} ?? {self.num(u, d + 1)})"
        if r < 0.78:
            return f"{c(['abs', 'floor', 'ceil', 'round', '-'])}({self.num(u, d + 1)})"
        if r < 0.8 and u == "1":
            return f"{c(['sqrt', 'exp', 'ln', 'log10'])}({self.num(u, d + 1)})"
        if r < 0.86:
            fn = c(["avg", "min", "max", "sum", "stddev", "median", "delta"])
            return f"{fn}({LEAVES[u][0]} + {self.num(u, d + 1)}, {c(['5m', '1h', '30 s'])})"
        if r < 0.9:
            return f"(if {self.cond(d + 1)} then {self.num(u, d + 1)} else {self.num(u, d + 1)})"
        if r < 0.94:
            return f"{c(['min', 'max'])}({self.num(u, d + 1)}, {self.num(u, d + 1)}, {self.num(u, d + 1)})"
        if r < 0.97:
            return f"clamp({self.num(u, d + 1)}, {self.num(u, d + 1)}, {self.num(u, d + 1)})"
        return f"previous({LEAVES[u][0]})"

    def cond(self, d: int = 0) -> str:
        r, c = self.r.random(), self.r.choice
        u = c(list(LEAVES))
        if d > 3 or r < 0.4:
            return f"({self.num(u, d + 1)} {c(['==', '!=', '<', '<=', '>', '>='])} {self.num(u, d + 1)})"
        if r < 0.6:
            return f"({self.cond(d + 1)} {c(['and', 'or'])} {self.cond(d + 1)})"
        if r < 0.67:
            return f"(not {self.cond(d + 1)})"
        if r < 0.74:
            neg = c(["in", "not in"])
            return f"({self.num(u, d + 1)} {neg} [{self.num(u, d + 1)}, {self.num(u, d + 1)}])"
        if r < 0.8:
            return f"{c(['rising', 'falling'])}({self.cond(d + 1)})"
        if r < 0.86:
            return f"(count_true({self.cond(d + 1)}, 5m) > {self.num('1', d + 1)})"
        if r < 0.92:
            return f"({self.cond(d + 1)} ?? {c(['true', 'false'])})"
        return f"{c(['changed', 'stale'])}(a.p{', 5m' if r > 0.96 else ''})"


def rules(rng: random.Random) -> str:
    g = Gen(rng)
    u, u2 = rng.choice(list(LEAVES)), rng.choice(list(LEAVES))
    return HEAD + (
        f"compute W o.y{rng.choice(DECLARED[u])} = {g.num(u)}\n"
        f"compute W o.z{rng.choice(DECLARED[u2])} = {g.num(u2)}\n"
        f"alarm W A when {g.cond()}\n    clear when {g.cond()}\n"
        '    message "{{ value }} {{ k }} {{ lim }}"\n'
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_checked_rules_compile_and_evaluate_to_plain_values(seed: int) -> None:
    source = rules(random.Random(seed))
    result = check_source(source, "random.rules")
    if result.errors:
        return
    program = compile_checked(result.checked, eager=True)
    ctx = MemoryContext(dict(VALUES))
    for step in range(3):
        for trigger in program.classes["W"].triggers.values():
            for _, value in trigger(ctx):
                assert value is MISSING or isinstance(value, (bool, int, float, str, EvalError)), value
        ctx.set("/features/a/properties/p", 50.0 + 10 * step, float(step))
