"""Property: the streaming engine and a backtest of its recorded history give identical transitions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from handmade import OIL, TUBING, WATER, well_program, well_thing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from centinela.infra.sqlite_history import SqliteHistoryStore
from centinela.rules.backtest import (
    BacktestError,
    backtest,
    backtest_rows,
    backtest_samples,
    backtest_sqlite,
)
from centinela.rules.engine import Engine
from centinela.rules.output import StepOutput

THINGS = ["org.acme.wells:well-01", "org.acme.wells:well-02"]
PATHS = [TUBING, TUBING, TUBING, OIL, WATER]

reading = st.tuples(
    st.floats(min_value=0.5, max_value=40.0),  # gap to the previous reading
    st.sampled_from(THINGS),
    st.sampled_from(PATHS),
    st.floats(min_value=0.0, max_value=3400.0, allow_nan=False),
    st.booleans(),  # fire timers at a random instant before this reading
)


def _stream(
    readings: list[tuple[float, str, str, float, bool]],
) -> tuple[list[tuple[float, str, str, float, bool]], float]:
    t, timed = 0.0, []
    for gap, thing, path, value, tick in readings:
        t += gap
        timed.append((t, thing, path, value, tick))
    return timed, t + 400.0


def _stream_engine(readings: list[tuple[float, str, str, float, bool]], end: float) -> StepOutput:
    engine = Engine(well_program(on_delay=20.0, stale_after=60.0))
    out = StepOutput()
    for thing in THINGS:
        engine.bind(well_thing(thing), 0.0, out)
    previous = 0.0
    for t, thing, path, value, tick in readings:
        if tick:
            engine.advance((previous + t) / 2, out)  # a timer delivered at some instant in between
        engine.ingest(thing, path, value, t, out)
        previous = t
    engine.advance(end, out)
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(reading, min_size=1, max_size=60))
def test_streaming_equals_backtest(readings: list[tuple[float, str, str, float, bool]]) -> None:
    timed, end = _stream(readings)
    out = _stream_engine(timed, end)
    samples = sorted(out.samples, key=lambda s: (s.time, s.thing_id, s.path))
    readings_only = [s for s in samples if not s.path.startswith("/features/production")]
    report = backtest_samples(well_program(on_delay=20.0, stale_after=60.0), readings_only, 0.0, end)
    streamed = [(a.id, a.time, a.thing_id, a.rule, a.state) for a in out.alarms]
    replayed = [(a.id, a.time, a.thing_id, a.rule, a.state) for a in report.transitions]
    assert sorted(replayed) == sorted(streamed)
    rows = [
        (s.time, s.thing_id, s.path, s.value, None if s.value_json is None else json.dumps(s.value_json))
        for s in readings_only
    ]
    fast = backtest_rows(well_program(on_delay=20.0, stale_after=60.0), rows, 0.0, end)
    assert [(a.id, a.time, a.thing_id, a.rule, a.state) for a in fast.transitions] == replayed
    assert fast.readings == report.readings
    assert len(set(streamed)) == len(streamed)


@pytest.mark.parametrize("seed", [7])
async def test_backtest_from_sqlite_history_matches_streaming(tmp_path: Path, seed: int) -> None:
    import random

    rng = random.Random(seed)
    timed, t = [], 0.0
    for _ in range(300):
        t += rng.uniform(1.0, 20.0)
        timed.append((t, rng.choice(THINGS), rng.choice(PATHS), rng.uniform(2700, 3300), rng.random() < 0.3))
    end = t + 400.0
    out = _stream_engine(timed, end)
    history = SqliteHistoryStore(f"sqlite:///{tmp_path / 'h.db'}")
    await history.write_samples(out.samples)
    await history.flush()
    report = await backtest(
        well_program(on_delay=20.0, stale_after=60.0), history.replay(0.0, end + 1), 0.0, end
    )
    await history.aclose()
    fast = await backtest_sqlite(
        well_program(on_delay=20.0, stale_after=60.0), str(tmp_path / "h.db"), 0.0, end + 1
    )
    assert [a.id for a in fast.transitions if a.time <= end] == [a.id for a in report.transitions]
    assert fast.readings == report.readings
    assert report.readings == len(timed)
    assert len(out.alarms) > 3
    assert sorted(a.id for a in report.transitions) == sorted(a.id for a in out.alarms)
    stats = report.rules["HighTubingPressure"]
    assert stats.alarms == sum(
        1 for a in out.alarms if a.rule == "HighTubingPressure" and a.cause == "raised"
    )
    assert stats.longest_standing > 0


async def test_backtest_sqlite_names_an_unreadable_file(tmp_path: Path) -> None:
    missing = tmp_path / "absent.db"
    with pytest.raises(BacktestError, match="absent.db"):
        await backtest_sqlite(well_program(), str(missing), 0.0, 10.0)
    assert not missing.exists()


WHERE_RULES = """
namespace org.acme.rigs
twins Rig = things "org.acme.rigs:*" where attributes.active == true
compute Rig flow.loss = max(flow.in - flow.out, 0)
alarm Rig HighLoss severity high when flow.loss > 80 clear when flow.loss < 60
alarm Rig LostCirculation severity high when flow.loss > 50 for 2m
"""
RIG_PATHS = ["/attributes/active", "/features/flow/properties/in", "/features/flow/properties/out"]

rig_reading = st.tuples(
    st.floats(min_value=0.5, max_value=90.0),
    st.sampled_from(RIG_PATHS),
    st.floats(min_value=0.0, max_value=400.0, allow_nan=False),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.booleans(), st.lists(rig_reading, min_size=1, max_size=40))
def test_streaming_equals_backtest_while_where_flips(
    active: bool, readings: list[tuple[float, str, float]]
) -> None:
    from centinela.dsl import compile_source

    program = compile_source(WHERE_RULES, "where.rules")
    engine, out = Engine(program), StepOutput()
    engine.bind({"thingId": "org.acme.rigs:r1", "attributes": {"active": active}}, 0.0, out)
    t = 0.0
    for gap, path, value in readings:
        t += gap
        engine.advance(t, out, before=True)
        engine.ingest("org.acme.rigs:r1", path, value > 200.0 if path == RIG_PATHS[0] else value, t, out)
    engine.advance(t + 400.0, out)
    samples = sorted(out.samples, key=lambda s: s.time)
    replayed = backtest_samples(compile_source(WHERE_RULES, "where.rules"), samples, 0.0, t + 400.0)
    assert [a.id for a in replayed.transitions] == [a.id for a in out.alarms]
