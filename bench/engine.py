"""Engine benchmark: 1,000 things x 20 rules, 1M readings; backtest from SQLite; pipeline latency; memory.

Runs the hand-written baseline and the engine in the same process on the same readings, checks that
both give the same number of alarm transitions, prints figures, and ends with one JSON line.
Set BENCH_READINGS / BENCH_MEMORY_THINGS to shrink the workload for a quick look, BENCH_PART=eval to
run the in-process section alone (BENCH_REPEAT=N times, the best CPU time kept). The readings are
generated first and frozen out of the garbage collector (`gc.freeze()`), for both contestants.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import random
import resource
import sys
import tempfile
import time
from collections import deque
from pathlib import Path

from centinela.dsl import compile_source
from centinela.dsl.compile import compile_checked
from centinela.dsl.pipeline import check_source
from centinela.infra.sqlite_history import SqliteHistoryStore
from centinela.ports import Sample
from centinela.rules.backtest import backtest, backtest_sqlite
from centinela.rules.engine import Engine
from centinela.rules.output import StepOutput

THINGS = 1000
INPUTS = 10
READINGS = int(os.environ.get("BENCH_READINGS", "1000000"))
MEMORY_THINGS = int(os.environ.get("BENCH_MEMORY_THINGS", "100000"))
PART = os.environ.get("BENCH_PART", "all")  # "eval" runs the in-process section only
PERIOD = 1.0 / (THINGS * INPUTS)  # each input of each thing is read at 1 Hz


def rules_text() -> str:
    lines = ['twins Dev = things "bench:*"']
    for i in range(INPUTS):  # 10 thresholds with hysteresis
        lines.append(f"alarm Dev Hi{i} severity high when p.in{i} > 80 clear when p.in{i} < 75")
    for j in range(5):  # 5 formulas
        lines.append(f"compute Dev out.f{j} = p.in{j} * 2 + p.in{j + 5}")
    for j in range(5):  # 5 windowed aggregates over 60 samples
        lines.append(f"compute Dev out.avg{j} = avg(p.in{j}, 60s)")
    return "\n".join(lines) + "\n"


def readings(n: int) -> list[tuple[str, int, float, float]]:
    rng = random.Random(42)
    level = [[70.0] * INPUTS for _ in range(THINGS)]
    out = []
    for r in range(n):
        thing, inp = r % THINGS, (r // THINGS) % INPUTS
        v = level[thing][inp] + rng.gauss(0.0, 3.0)
        v = min(100.0, max(50.0, v))
        level[thing][inp] = v
        out.append((f"bench:d{thing}", inp, r * PERIOD, v))
    return out


class Baseline:
    """What a careful engineer would write by hand for this rule set."""

    def __init__(self) -> None:
        self.values: dict[str, list[float | None]] = {}
        self.active: dict[str, list[bool]] = {}
        self.windows: dict[str, list[deque[tuple[float, float]]]] = {}
        self.sums: dict[str, list[float]] = {}
        self.outputs: dict[str, dict[str, float]] = {}
        self.transitions = 0

    def reading(self, thing: str, inp: int, t: float, v: float) -> None:
        values = self.values.get(thing)
        if values is None:
            values = self.values[thing] = [None] * INPUTS
            self.active[thing] = [False] * INPUTS
            self.windows[thing] = [deque() for _ in range(5)]
            self.sums[thing] = [0.0] * 5
            self.outputs[thing] = {}
        values[inp] = v
        active = self.active[thing]
        if not active[inp] and v > 80:
            active[inp] = True
            self.transitions += 1
        elif active[inp] and v < 75:
            active[inp] = False
            self.transitions += 1
        j = inp % 5
        a, b = values[j], values[j + 5]
        outputs = self.outputs[thing]
        if a is not None and b is not None:
            f = a * 2 + b
            if outputs.get(f"f{j}") != f:
                outputs[f"f{j}"] = f
        if inp < 5:
            window, sums = self.windows[thing][inp], self.sums[thing]
            window.append((t, v))
            sums[inp] += v
            while window[0][0] <= t - 60.0:
                sums[inp] -= window.popleft()[1]
            avg = sums[inp] / len(window)
            if outputs.get(f"avg{inp}") != avg:
                outputs[f"avg{inp}"] = avg


def bench_eval(data: list[tuple[str, int, float, float]]) -> dict[str, float]:
    """Baseline and engine on the same readings; wall and CPU time, best of BENCH_REPEAT rounds."""
    paths = [f"/features/p/properties/in{i}" for i in range(INPUTS)]
    best: dict[str, float] = {}
    transitions = base_transitions = 0
    for _ in range(max(1, int(os.environ.get("BENCH_REPEAT", "1")))):
        base = Baseline()
        gc.collect()
        t0, c0 = time.perf_counter(), time.process_time()
        for thing, inp, t, v in data:
            base.reading(thing, inp, t, v)
        base_s, base_cpu = time.perf_counter() - t0, time.process_time() - c0
        base_transitions = base.transitions

        engine = Engine(compile_source(rules_text(), "bench.rules"), record_readings=False)
        out = StepOutput()
        for i in range(THINGS):
            engine.bind({"thingId": f"bench:d{i}"}, 0.0, out)
        out.clear()
        transitions = 0
        ingest = engine.ingest
        gc.collect()
        t0, c0 = time.perf_counter(), time.process_time()
        for n, (thing, inp, t, v) in enumerate(data):
            ingest(thing, paths[inp], v, t, out)
            if n % 1000 == 999:
                transitions += len(out.alarms)
                out.clear()
        transitions += len(out.alarms)
        ours_s, ours_cpu = time.perf_counter() - t0, time.process_time() - c0
        for name, seconds in (
            ("ours_per_s", ours_s),
            ("baseline_per_s", base_s),
            ("ours_cpu_per_s", ours_cpu),
            ("baseline_cpu_per_s", base_cpu),
        ):
            best[name] = max(best.get(name, 0.0), len(data) / seconds)
    if transitions != base_transitions:
        print(f"MISMATCH: engine {transitions} transitions, baseline {base_transitions}", file=sys.stderr)
    return {**best, "transitions": transitions, "baseline_transitions": base_transitions}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def bench_backtest(data: list[tuple[str, int, float, float]], tmp: Path) -> dict[str, float]:
    store = SqliteHistoryStore(f"sqlite:///{tmp / 'bench.db'}", batch_rows=200_000)
    paths = [f"/features/p/properties/in{i}" for i in range(INPUTS)]
    await store.write_samples([Sample(t, thing, paths[inp], v) for thing, inp, t, v in data])
    await store.flush()
    program = compile_source(rules_text(), "bench.rules")
    end = data[-1][2] + 1.0  # replay the span of the data (timers after it would drain the windows)
    t0, c0 = time.perf_counter(), time.process_time()
    report = await backtest(program, store.replay(0.0, end), 0.0, end)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    await store.aclose()
    t0, c0 = time.perf_counter(), time.process_time()
    fast = await backtest_sqlite(program, str(tmp / "bench.db"), 0.0, end, vector=False)
    fast_elapsed, fast_cpu = time.perf_counter() - t0, time.process_time() - c0
    if [a.id for a in fast.transitions] != [a.id for a in report.transitions]:
        print("MISMATCH: the fast backtest path gave other transitions", file=sys.stderr)
    checked = check_source(rules_text(), "bench.rules").checked
    vector_program = compile_checked(checked)
    t0, c0 = time.perf_counter(), time.process_time()
    vec = await backtest_sqlite(vector_program, str(tmp / "bench.db"), 0.0, end, checked=checked)
    vec_elapsed, vec_cpu = time.perf_counter() - t0, time.process_time() - c0
    # Identity with the engine: every transition field by field, every computed row, the counts.
    same = (
        vec.vectorized
        and vec.transitions == fast.transitions
        and list(vec.computed) == list(fast.computed)
        and vec.readings == fast.readings
    )
    if not same:
        print("MISMATCH: the vectorized backtest differs from the engine", file=sys.stderr)
    t0, c0, k0 = time.perf_counter(), time.process_time(), _children_cpu()
    vec2 = await backtest_sqlite(vector_program, str(tmp / "bench.db"), 0.0, end, checked=checked, workers=2)
    vec2_elapsed = time.perf_counter() - t0
    vec2_cpu = time.process_time() - c0 + _children_cpu() - k0  # this process and its forked helpers
    same2 = (
        vec2.vectorized
        and vec2.transitions == fast.transitions
        and list(vec2.computed) == list(fast.computed)
        and vec2.readings == fast.readings
    )
    if not same2:
        print("MISMATCH: the vectorized backtest on two processes differs from the engine", file=sys.stderr)
    return {
        "backtest_vector2_per_s": vec2.readings / vec2_elapsed,
        "backtest_vector2_cpu_per_s": vec2.readings / vec2_cpu,
        "backtest_vector2_same": same2,
        "backtest_vector_per_s": vec.readings / vec_elapsed,
        "backtest_vector_cpu_per_s": vec.readings / vec_cpu,
        "backtest_vector_same": same,
        "backtest_vector_rows": len(vec.computed),
        "backtest_per_s": report.readings / elapsed,
        "backtest_cpu_per_s": report.readings / cpu,
        "backtest_fast_per_s": fast.readings / fast_elapsed,
        "backtest_fast_cpu_per_s": fast.readings / fast_cpu,
        "backtest_transitions": len(report.transitions),
        "backtest_fast_same": [a.id for a in fast.transitions] == [a.id for a in report.transitions],
    }


PIPE_THINGS = 5000  # each thing is written about once a second at 5k readings/s


async def bench_pipeline(rate: float, seconds: float) -> dict[str, float]:
    from centinela.clock import SystemClock
    from centinela.rules.runtime import Runtime
    from centinela.rules.sinks import TwinSink
    from centinela.twin.store import EmbeddedTwinStore

    program = compile_source(rules_text(), "bench.rules")
    clock = SystemClock()
    async with EmbeddedTwinStore(clock=clock, queue_size=100_000) as store:
        for i in range(PIPE_THINGS):
            await store.modify(f"bench:d{i}", "/", {"features": {"p": {"properties": {"in0": 70.0}}}})
        sent: dict[str, float] = {}
        latencies: list[float] = []

        def seen(out: StepOutput) -> None:
            now = time.perf_counter()
            for event in out.alarms:
                start = sent.pop(event.thing_id, None)
                if start is not None:
                    latencies.append(now - start)

        runtime = Runtime(program, store, clock, [TwinSink(store, coalesce=True)], on_output=seen)
        task = asyncio.create_task(runtime.run())
        await runtime.ready.wait()

        counter = [0]  # readings sent so far: each thing alternates above / below the threshold

        async def drive(n: int, interval: float) -> float:
            t0 = time.perf_counter()
            for i in range(n):
                if interval:
                    delay = t0 + i * interval - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                k = counter[0]
                counter[0] += 1
                thing = f"bench:d{k % PIPE_THINGS}"
                value = 90.0 if (k // PIPE_THINGS) % 2 == 0 else 70.0  # every reading crosses the threshold
                sent[thing] = time.perf_counter()
                await store.merge(thing, "/features/p/properties/in0", value)
            while sent and time.perf_counter() - t0 < n * max(interval, 0.001) + 10:
                await asyncio.sleep(0.001)
            return time.perf_counter() - t0

        result: dict[str, float] = {}
        for label, at in (("_2k", 2000.0), ("", rate)):
            latencies.clear()
            await drive(int(at * seconds), 1.0 / at)
            lat = sorted(latencies)
            result[f"pipeline{label}_p50_ms"] = 1000 * lat[len(lat) // 2] if lat else -1.0
            result[f"pipeline{label}_p99_ms"] = 1000 * lat[int(len(lat) * 0.99)] if lat else -1.0
            result[f"pipeline{label}_samples"] = len(lat)
        flat_out = 20_000
        elapsed = await drive(flat_out, 0.0)
        result["pipeline_max_per_s"] = flat_out / elapsed
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return result


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def bench_memory(things: int) -> dict[str, float]:
    program = compile_source('twins M = things "mem:*"\ncompute M out.avg = avg(p.x, 60s)\n', "mem.rules")
    gc.collect()
    before = _rss()
    engine = Engine(program, record_readings=False)
    out = StepOutput()
    for i in range(things):
        engine.bind({"thingId": f"mem:d{i}"}, 0.0, out)
    out.clear()
    path = "/features/p/properties/x"
    for i in range(things):  # 59 readings straight into the series, the 60th through the engine
        thing = f"mem:d{i}"
        series = engine.contexts[thing][0].series(path)
        for s in range(59):
            series.append(float(s + 1), 50.0 + s)
        engine.ingest(thing, path, 110.0, 60.0, out)
        if i % 1000 == 999:
            out.clear()
    gc.collect()
    after = _rss()
    return {"memory_bytes_per_thing_path": (after - before) / things, "memory_things": things}


def main() -> None:
    data = readings(READINGS)
    # The 1M input tuples are static: keep them out of the cyclic collector's way for both contestants
    # (otherwise every full collection walks them and the figures measure the collector, not the code).
    gc.freeze()
    figures: dict[str, float] = {"readings": READINGS}
    figures.update(bench_eval(data))
    print(
        f"eval: engine {figures['ours_per_s']:,.0f}/s, hand-written {figures['baseline_per_s']:,.0f}/s, "
        f"ratio {figures['ours_per_s'] / figures['baseline_per_s']:.2f}; transitions "
        f"{figures['transitions']} vs {figures['baseline_transitions']}; CPU: engine "
        f"{figures['ours_cpu_per_s']:,.0f}/s, hand-written {figures['baseline_cpu_per_s']:,.0f}/s"
    )
    if PART == "eval":
        line = {
            "bench": "eval",
            "ours_per_s": round(figures["ours_per_s"]),
            "baseline_per_s": round(figures["baseline_per_s"]),
            "ratio": round(figures["ours_per_s"] / figures["baseline_per_s"], 3),
            "ours_cpu_per_s": round(figures["ours_cpu_per_s"]),
            "baseline_cpu_per_s": round(figures["baseline_cpu_per_s"]),
            "transitions_match": figures["transitions"] == figures["baseline_transitions"],
        }
        print(json.dumps(line))
        return
    with tempfile.TemporaryDirectory() as tmp:
        figures.update(asyncio.run(bench_backtest(data, Path(tmp))))
    print(
        f"backtest from SQLite: {figures['backtest_per_s']:,.0f} readings/s "
        f"({figures['backtest_cpu_per_s']:,.0f}/s of CPU); fast path (chunked rows, no Sample per row) "
        f"{figures['backtest_fast_per_s']:,.0f} readings/s "
        f"({figures['backtest_fast_cpu_per_s']:,.0f}/s of CPU), "
        f"same transitions: {figures['backtest_fast_same']}; vectorized "
        f"{figures['backtest_vector_per_s']:,.0f} readings/s ({figures['backtest_vector_cpu_per_s']:,.0f}/s "
        f"of CPU), identical transitions and computed rows: {figures['backtest_vector_same']}; "
        f"on two processes {figures['backtest_vector2_per_s']:,.0f} readings/s "
        f"({figures['backtest_vector2_cpu_per_s']:,.0f}/s of CPU, both processes), "
        f"identical: {figures['backtest_vector2_same']}"
    )
    figures.update(asyncio.run(bench_pipeline(5000.0, 3.0)))
    print(
        f"pipeline at 5k/s: p50 {figures['pipeline_p50_ms']:.2f} ms, "
        f"p99 {figures['pipeline_p99_ms']:.2f} ms; at 2k/s: p50 {figures['pipeline_2k_p50_ms']:.2f} ms, "
        f"p99 {figures['pipeline_2k_p99_ms']:.2f} ms; "
        f"max sustained {figures['pipeline_max_per_s']:,.0f}/s"
    )
    del data
    figures.update(bench_memory(MEMORY_THINGS))
    print(
        f"memory: {figures['memory_bytes_per_thing_path']:,.0f} bytes per (thing, path) "
        "with a 60-sample window"
    )
    line = {
        "bench": "engine",
        "ours_per_s": round(figures["ours_per_s"]),
        "baseline_per_s": round(figures["baseline_per_s"]),
        "ratio": round(figures["ours_per_s"] / figures["baseline_per_s"], 3),
        "backtest_per_s": round(figures["backtest_per_s"]),
        "backtest_fast_per_s": round(figures["backtest_fast_per_s"]),
        "backtest_fast_same": figures["backtest_fast_same"],
        "backtest_vector_per_s": round(figures["backtest_vector_per_s"]),
        "backtest_vector_cpu_per_s": round(figures["backtest_vector_cpu_per_s"]),
        "backtest_vector_same": figures["backtest_vector_same"],
        "backtest_vector2_per_s": round(figures["backtest_vector2_per_s"]),
        "backtest_vector2_same": figures["backtest_vector2_same"],
        "pipeline_p50_ms": round(figures["pipeline_p50_ms"], 3),
        "pipeline_p99_ms": round(figures["pipeline_p99_ms"], 3),
        "pipeline_2k_p99_ms": round(figures["pipeline_2k_p99_ms"], 3),
        "pipeline_max_per_s": round(figures["pipeline_max_per_s"]),
        "memory_bytes_per_thing_path": round(figures["memory_bytes_per_thing_path"]),
        "transitions_match": figures["transitions"] == figures["baseline_transitions"],
    }
    print(json.dumps(line))


if __name__ == "__main__":
    main()
