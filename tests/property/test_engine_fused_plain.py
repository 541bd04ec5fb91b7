"""Property: fused == general for plain hysteresis alarms (no delay, latch, chatter) and operator actions."""

from __future__ import annotations

from functools import cache
from typing import Any

from engine_support import engine_outcome
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from centinela.dsl import compile_source
from centinela.dsl.program import Program
from centinela.rules.alarms import Action, ActionKind
from centinela.rules.engine import Engine
from centinela.rules.output import StepOutput

RULES = """
twins Dev = things "plain:*"
alarm Dev Hi severity high when p.a > 80 clear when p.a < 75
alarm Dev HiB severity low when p.b > 10 clear when p.b < 5 or p.a > 90
alarm Dev Slow severity high when p.b > 20 for 3s clear when p.b < 15
alarm Dev Kept severity high latch when p.a > 95 clear when p.a < 60
compute Dev out.avg = avg(p.a, 10s)
"""
PATHS = ["/features/p/properties/a", "/features/p/properties/b"]
THINGS = ["plain:d0", "plain:d1"]
RULE_NAMES = ["Hi", "HiB", "Slow", "Kept"]


@cache
def _program() -> Program:
    return compile_source(RULES, "plain.rules")


values = st.one_of(
    st.sampled_from([0.0, 4.0, 7.0, 12.0, 17.0, 22.0, 70.0, 77.0, 85.0, 92.0, 97.0]),
    st.sampled_from([None, "off", True]),
)
actions = st.none() | st.tuples(
    st.sampled_from(RULE_NAMES), st.sampled_from([ActionKind.ACK, ActionKind.SHELVE, ActionKind.UNSHELVE])
)
reading = st.tuples(
    st.sampled_from([0.0, -1.0, 0.5, 1.0, 4.0, 12.0]),
    st.integers(min_value=0, max_value=len(THINGS) - 1),
    st.integers(min_value=0, max_value=len(PATHS) - 1),
    values,
    actions,
)


def _run(engine: Engine, readings: list[tuple[float, int, int, Any, Any]]) -> dict[str, Any]:
    out = StepOutput()
    for thing in THINGS:
        engine.bind({"thingId": thing}, 0.0, out)
    t = 1.0
    for gap, which, path, value, action in readings:
        t += gap
        engine.advance(t, out, before=True)
        engine.ingest(THINGS[which], PATHS[path], value, t, out)
        if action is not None:
            rule, kind = action
            until = t + 5.0 if kind is ActionKind.SHELVE else None
            engine.act(THINGS[which], rule, Action(kind, until), t, out)
    engine.advance(t + 600.0, out)
    return engine_outcome(engine, out)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(reading, min_size=1, max_size=60))
def test_fused_plain_alarms_equal_general_path(readings: list[tuple[float, int, int, Any, Any]]) -> None:
    fused = _run(Engine(_program()), readings)
    general = _run(Engine(_program(), fused=False), readings)
    assert fused == general


def test_a_long_stream_has_transitions_and_stays_equal() -> None:
    import random

    rng = random.Random(7)
    readings: list[tuple[float, int, int, Any, Any]] = []
    for _ in range(3000):
        action = None
        if rng.random() < 0.03:
            kinds = [ActionKind.ACK, ActionKind.SHELVE, ActionKind.UNSHELVE]
            action = (rng.choice(RULE_NAMES), rng.choice(kinds))
        value = rng.choice([rng.uniform(0.0, 100.0), rng.uniform(0.0, 25.0), None])
        readings.append((rng.choice([0.0, 0.5, 1.0, 2.0]), rng.randrange(2), rng.randrange(2), value, action))
    fused = _run(Engine(_program()), readings)
    general = _run(Engine(_program(), fused=False), readings)
    assert len(fused["alarms"]) > 100
    assert fused == general
