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


# ---------------------------------------------------------------- the vectorized path equals the engine

VEC_X, VEC_Y = "/features/p/properties/x", "/features/p/properties/y"
VECTORIZABLE = [
    "alarm D Hi severity high when p.x > 60 clear when p.x < 55",
    "alarm D Both severity low when p.x + p.y > 120",
    "alarm D Mixed severity medium when p.x > 50 and p.y < 40",
    "alarm D Low severity low when p.y < 10 or p.x < 5",
    "compute D out.f = p.x * 2 - p.y",
    "compute D out.g = if p.x > p.y then p.x else p.y",
    "compute D out.ratio = p.x / 4 + 1",
    "compute D out.m = max(p.x, p.y, 50.5) - min(p.x, 20.5)",
    "compute D out.c = clamp(p.x, 10.5, 90.5) + floor(p.y / 3) + ceil(p.x / 7)",
    "compute D out.r = sqrt(p.x) + abs(p.y - 50)",
    "compute D out.z = max(p.x - p.y, 0)",
    "compute D out.avg = avg(p.x, 30s)",
    "compute D out.max = max(p.y, 45s)",
    "compute D out.min = min(p.x, 30s)",
    "compute D out.n = count(p.x, 30s)",
    "compute D out.sum = sum(p.y, 45s)",
    "compute D out.sd = stddev(p.x, 30s)",
    "compute D out.delta = delta(p.y, 45s)",
    "compute D out.rate = rate(p.x, 30s) * 60",
    "let D.half = p.x / 2\ncompute D out.half = half + 1",
    "alarm D Latched severity high latch when p.y > 70",
    "alarm D Quiet severity low when p.x > 30 suppress when p.y > 50",
    "alarm D Band severity low when p.y > 40 deadband 5",
    "alarm D Missing severity low when p.y > 20 and p.x < 90 on missing raise",
    "alarm D Slow severity high when p.x > 60 for 5s",
    "alarm D Hot severity high when p.y > 60 chatter 2 in 30s",
    "alarm D HotSlow severity high when p.x > 40 for 3s chatter 1 in 60s",
    "alarm D SlowClear severity low when p.y > 50 for 1s clear when p.y < 45 for 10s",
    "let D.lim = 80\n"
    'alarm D Msg severity low when p.x > lim message "x {{ value }} on {{ thing.name }} > {{ lim }}"',
]
ENGINE_ONLY = [
    "compute D out.med = median(p.x, 30s)",
    "compute D out.age = age(p.y)",
    "compute D out.ln = ln(p.x + 1)",
]
vec_reading = st.tuples(
    st.sampled_from([0.0, 0.0, 0.5, 1.0, 3.0, 10.0, 20.0, 30.0, 45.0, 61.0]),  # gap (ties included)
    st.sampled_from(["t:a", "t:b", "t:c"]),
    st.sampled_from([VEC_X, VEC_Y]),
    st.integers(min_value=0, max_value=100).map(float),  # few values: equal values and crossings
)


SECOND_CLASS = (
    'twins E = things "t:[ab]"\n'
    "alarm E Over severity high when p.x - p.y > 10 clear when p.x - p.y < 0\n"
    "compute E out.e = avg(p.y, 30s) * 2\n"
)


def _vector_vs_engine(
    rules: list[str], readings: list[tuple[float, str, str, float]], tail: float, second: bool = False
) -> bool:
    """Whether the vectorized path replayed the stream (then identically); False when it stepped aside."""
    from centinela.dsl.compile import compile_checked
    from centinela.dsl.pipeline import check_source
    from centinela.rules.backtest import Replayer
    from centinela.rules.vector import replay
    from centinela.rules.vector_data import History
    from centinela.rules.vector_expr import NotVectorizable

    text = 'twins D = things "t:*"\n' + "\n".join(rules) + "\n" + (SECOND_CLASS if second else "")
    result = check_source(text, "prop.rules")
    assert not result.errors
    checked = result.checked
    program = compile_checked(checked)
    t, rows = 0.0, {}
    for gap, thing, path, value in readings:
        t += gap
        rows[(t, thing, path)] = (t, thing, path, value, None)  # one reading per path and time
    ordered = [rows[k] for k in sorted(rows)]
    end = t + tail
    engine = Replayer(program)
    engine.feed_rows(ordered)
    engine.finish(end)
    if any(r in ENGINE_ONLY for r in rules):
        with pytest.raises(NotVectorizable):
            replay(program, checked, History.from_rows(ordered), 0.0, end)
        return False
    try:
        vector = replay(program, checked, History.from_rows(ordered), 0.0, end)
    except NotVectorizable as exc:
        # Alarm timers of several things at one instant: the engine's heap order decides; it replays.
        assert "same instant" in str(exc)
        return False
    assert vector.transitions == engine.out.alarms
    rows = list(vector.rows)
    # The same rows, and each value's own timeline in the engine's order; only rows of timers of one
    # instant (several things, or classes of one thing) may interleave otherwise: the engine fires
    # those in the order it happened to schedule them, the vectorized path by thing and class.
    assert sorted(rows, key=lambda r: r[:3]) == sorted(engine.out.rows, key=lambda r: r[:3])
    for thing, key in {r[1:3] for r in rows}:
        mine = [r for r in rows if r[1:3] == (thing, key)]
        assert mine == [r for r in engine.out.rows if r[1:3] == (thing, key)]
    assert vector.readings == engine.readings
    return True


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.sampled_from(VECTORIZABLE), min_size=1, max_size=6, unique=True),
    st.lists(vec_reading, min_size=1, max_size=80),
    st.sampled_from([0.0, 1.0, 30.0, 100.0]),
    st.booleans(),
)
def test_vectorized_backtest_equals_the_engine(
    rules: list[str], readings: list[tuple[float, str, str, float]], tail: float, second: bool
) -> None:
    _vector_vs_engine(rules, readings, tail, second)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.sampled_from(VECTORIZABLE), max_size=3, unique=True),
    st.sampled_from(ENGINE_ONLY),
    st.lists(vec_reading, min_size=1, max_size=30),
)
def test_rules_outside_the_vectorized_subset_are_left_to_the_engine(
    rules: list[str], other: str, readings: list[tuple[float, str, str, float]]
) -> None:
    _vector_vs_engine([*rules, other], readings, 10.0)


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
