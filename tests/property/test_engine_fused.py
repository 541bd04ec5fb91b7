"""Property: the compiler's fused ingest functions give exactly what the engine's general path gives."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from engine_support import engine_outcome
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from centinela.dsl import compile_paths
from centinela.dsl.program import Program
from centinela.rules.engine import Engine
from centinela.rules.output import StepOutput

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
THINGS = [
    {
        "thingId": "org.acme.wells:w1",
        "definition": "org.acme:producer-well:1.0",
        "attributes": {"status": "producing", "lift": "esp", "limits": {"tubingPressure": 3000}},
    },
    {
        "thingId": "org.acme.wells:w2",
        "definition": "org.acme:producer-well:1.2",
        "attributes": {"status": "producing", "lift": "gas-lift"},
        "features": {"pressure": {"properties": {"tubing": 2900.0}}},
    },
    {"thingId": "org.acme.rigs:r1", "attributes": {"active": True, "bitDiameter": 8.5}},
]


@cache
def _program() -> Program:
    return compile_paths([EXAMPLES])


@cache
def _paths() -> dict[str, list[str]]:
    program = _program()
    found: dict[str, set[str]] = {}
    engine = Engine(program)
    out = StepOutput()
    for thing in THINGS:
        for ctx in engine.bind(thing, 0.0, out):
            found.setdefault(str(thing["thingId"]), set()).update(ctx.twin_class.inputs)
    return {k: sorted(v) for k, v in found.items()}


values = st.one_of(
    st.floats(min_value=-50.0, max_value=4000.0, allow_nan=False),
    st.sampled_from([0.0, 80.0, 3100.0, None, "shut-in", "producing", True, False]),
)
reading = st.tuples(
    st.sampled_from([0.0, -3.0, 0.5, 1.0, 7.0, 45.0, 400.0]),  # gap: equal, older, newer
    st.integers(min_value=0, max_value=len(THINGS) - 1),
    st.integers(min_value=0, max_value=40),  # input path, modulo the thing's inputs
    values,
    st.booleans(),  # fire timers first
)


def _run(engine: Engine, readings: list[tuple[float, int, int, Any, bool]]) -> dict[str, Any]:
    out = StepOutput()
    for thing in THINGS:
        engine.bind(thing, 0.0, out)
    paths = _paths()
    t = 1.0
    for gap, which, index, value, tick in readings:
        t += gap
        thing_id = str(THINGS[which]["thingId"])
        if tick:
            engine.advance(t - 0.25, out)
        inputs = paths[thing_id]
        engine.ingest(thing_id, inputs[index % len(inputs)], value, t, out)
    engine.advance(t + 3600.0, out)
    return engine_outcome(engine, out)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(reading, min_size=1, max_size=80))
def test_fused_ingest_equals_general_path(readings: list[tuple[float, int, int, Any, bool]]) -> None:
    fused = _run(Engine(_program()), readings)
    general = _run(Engine(_program(), fused=False), readings)
    assert fused == general


def test_fused_functions_are_used_for_compiled_classes() -> None:
    engine = Engine(_program())
    out = StepOutput()
    engine.bind(THINGS[1], 0.0, out)
    path = "/features/pressure/properties/tubing"
    engine.ingest("org.acme.wells:w2", path, 3500.0, 10.0, out)
    active = [ctx for ctx in engine.contexts["org.acme.wells:w2"] if not ctx.dormant]
    reading = [ctx for ctx in active if path in ctx.twin_class.inputs]
    assert reading
    assert all(ctx.kernels[path] is ctx.twin_class.fused[path] for ctx in reading)
    general = Engine(_program(), fused=False)
    general.bind(THINGS[1], 0.0, out)
    general.ingest("org.acme.wells:w2", path, 3500.0, 10.0, out)
    others = [c for c in general.contexts["org.acme.wells:w2"] if path in c.twin_class.inputs]
    assert all(ctx.kernels[path] is not ctx.twin_class.fused[path] for ctx in others)


def _random_stream(seed: int, n: int) -> list[tuple[float, int, int, Any, bool]]:
    import random

    rng = random.Random(seed)
    picks: list[Any] = [0.0, 0.0, 80.0, 3100.0, 2800.0, None, "shut-in", "producing", True, False]
    stream = []
    for _ in range(n):
        value = rng.choice(picks) if rng.random() < 0.3 else rng.uniform(-10.0, 3500.0)
        gap = rng.choice([0.0, -3.0, 0.5, 1.0, 1.0, 5.0, 30.0, 200.0])
        stream.append((gap, rng.randrange(len(THINGS)), rng.randrange(8), value, rng.random() < 0.1))
    return stream


def test_fused_ingest_equals_general_path_on_long_streams() -> None:
    for seed in range(6):
        readings = _random_stream(seed, 1500)
        fused = _run(Engine(_program()), readings)
        general = _run(Engine(_program(), fused=False), readings)
        assert fused["health"], "the stream makes some rule fail"
        assert fused["alarms"], "the stream raises alarms"
        assert fused == general, f"seed {seed}"


def test_a_string_reaching_a_numeric_compute_is_rule_health_not_a_crash() -> None:
    for fused in (True, False):
        engine = Engine(_program(), fused=fused)
        out = StepOutput()
        engine.bind(THINGS[1], 0.0, out)
        engine.ingest("org.acme.wells:w2", "/features/flow/properties/oilRate", "n/a", 5.0, out)
        failed = {h.rule for h in out.health if h.error}
        assert "production.oilRateReported" in failed, failed
        assert all("TypeError" in h.error for h in out.health if h.error and h.rule in failed)
