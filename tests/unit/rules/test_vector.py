"""The vectorized backtest against the engine: same transitions, computed rows and reading counts."""

from __future__ import annotations

from typing import Any

import pytest

from centinela.dsl.compile import compile_checked
from centinela.dsl.pipeline import check_source
from centinela.rules.backtest import Replayer
from centinela.rules.vector import VectorResult, replay
from centinela.rules.vector_data import History
from centinela.rules.vector_expr import NotVectorizable

X = "/features/p/properties/x"
Y = "/features/p/properties/y"
Row = tuple[float, str, str, Any, Any]

RULES = """
twins Dev = things "t:*"
let Dev.limit = 80
alarm Dev High severity high when p.x > limit clear when p.x < 75
alarm Dev Sum severity low when p.x + p.y > 150
compute Dev out.f = p.x * 2 + p.y
compute Dev out.avg = avg(p.x, 60s)
compute Dev out.n = count(p.y, 10s)
compute Dev out.lo = min(p.y, 10s)
compute Dev out.hi = max(p.y, 10s)
compute Dev out.s = sum(p.y, 10s) / 2
"""


def _both(text: str, rows: list[Row], end: float) -> tuple[Replayer, VectorResult]:
    result = check_source(text, "vec.rules")
    program = compile_checked(result.checked)
    rows = sorted(rows, key=lambda r: (r[0], r[1], r[2]))
    engine = Replayer(program)
    engine.feed_rows(rows)
    engine.finish(end)
    return engine, replay(program, result.checked, History.from_rows(rows), 0.0, end)


def _assert_same(engine: Replayer, vector: VectorResult) -> None:
    assert vector.transitions == engine.out.alarms
    assert list(vector.rows) == engine.out.rows
    assert vector.readings == engine.readings


def test_thresholds_formulas_and_windows_match_the_engine() -> None:
    rows: list[Row] = []
    for i in range(400):
        t = i * 0.7
        rows.append((t, f"t:{i % 3}", X if i % 2 else Y, 60.0 + (i * 37 % 41), None))
    engine, vector = _both(RULES, rows, 400 * 0.7 + 100)
    assert len(engine.out.alarms) > 5
    assert any(r[2] == "/features/out/properties/avg" for r in engine.out.rows)
    _assert_same(engine, vector)


def test_rows_too_many_for_one_sort_integer_come_in_the_same_order(monkeypatch: pytest.MonkeyPatch) -> None:
    import centinela.rules.vector as vector_module

    rows: list[Row] = [(i * 0.5, f"t:{i % 4}", X if i % 3 else Y, 50.0 + i % 37, None) for i in range(300)]
    monkeypatch.setattr(vector_module, "_TIE_LIMIT", 0.0)  # the six-key sort
    engine, wide = _both(RULES, rows, 300.0)
    assert len(wide.rows) > 100
    _assert_same(engine, wide)


def test_a_reading_exactly_at_the_window_edge_has_left_the_window() -> None:
    rows: list[Row] = [(t, "t:a", X, v, None) for t, v in ((0.0, 10.0), (60.0, 20.0), (61.0, 30.0))]
    engine, vector = _both('twins D = things "t:*"\ncompute D out.avg = avg(p.x, 60s)\n', rows, 200.0)
    _assert_same(engine, vector)
    # At 60 s the reading of 0 s is out: (now - 60, now] is open on the left.
    assert (60.0, "t:a", "/features/out/properties/avg", 20.0) in list(vector.rows)


def test_window_timers_drain_a_window_after_the_last_reading() -> None:
    rows: list[Row] = [(float(t), "t:a", X, float(t), None) for t in (0, 5, 7, 30)]
    engine, vector = _both('twins D = things "t:*"\ncompute D out.avg = avg(p.x, 60s)\n', rows, 500.0)
    _assert_same(engine, vector)
    times = [r[0] for r in vector.rows]
    assert times == [0.0, 5.0, 7.0, 30.0, 60.0, 65.0, 67.0]  # each point leaving at its own time


def test_ties_in_time_across_things_and_paths() -> None:
    rows: list[Row] = []
    for t in range(30):
        for thing in ("t:b", "t:a", "t:c"):
            rows.append((float(t // 3), thing, X, 70.0 + (t * 7 % 20), None))
            rows.append((float(t // 3) + 0.5 * (t % 2), thing, Y, 70.0 + (t * 11 % 20), None))
    dedup = {(r[0], r[1], r[2]): r for r in rows}
    engine, vector = _both(RULES, list(dedup.values()), 100.0)
    _assert_same(engine, vector)


def test_missing_inputs_until_their_first_reading() -> None:
    rows: list[Row] = [
        (1.0, "t:a", X, 90.0, None),
        (2.0, "t:a", X, 95.0, None),
        (3.0, "t:a", Y, 70.0, None),
        (4.0, "t:a", X, 10.0, None),
    ]
    engine, vector = _both(RULES, rows, 10.0)
    _assert_same(engine, vector)
    keys = [(r[0], r[2]) for r in vector.rows]
    assert (1.0, "/features/out/properties/f") not in keys  # y is missing until 3 s
    assert (3.0, "/features/out/properties/f") in keys


def test_chattering_starts_and_ends_as_in_the_engine() -> None:
    text = 'twins D = things "t:*"\nalarm D Hi severity high when p.x > 5 chatter 2 in 60s\n'
    rows: list[Row] = [(float(t), "t:a", X, 9.0 if t % 2 else 1.0, None) for t in range(12)]
    engine, vector = _both(text, rows, 300.0)
    _assert_same(engine, vector)
    causes = [a.cause for a in vector.transitions]
    assert "chattering" in causes and causes[-1] == "chatter-end"


def test_on_and_off_delays_fire_at_their_own_time() -> None:
    text = 'twins D = things "t:*"\nalarm D Hi severity high when p.x > 5 for 10s clear when p.x < 3 for 5s\n'
    values = [(0.0, 1.0), (2.0, 7.0), (4.0, 8.0), (20.0, 9.0), (21.0, 1.0), (23.0, 9.0), (24.0, 1.0)]
    values.append((40.0, 2.0))
    rows: list[Row] = [(t, "t:a", X, v, None) for t, v in values]
    rows += [(t + 0.5, "t:b", X, v, None) for t, v in values]
    engine, vector = _both(text, rows, 100.0)
    _assert_same(engine, vector)
    raised = [(a.thing_id, a.time, a.cause) for a in vector.transitions]
    assert ("t:a", 12.0, "raised") in raised and ("t:a", 29.0, "cleared") in raised


def test_a_division_by_zero_is_left_to_the_engine() -> None:
    text = 'twins D = things "t:*"\ncompute D out.r = p.x / p.y\n'
    rows: list[Row] = [(0.0, "t:a", X, 1.0, None), (1.0, "t:a", Y, 0.0, None)]
    with pytest.raises(NotVectorizable, match="division"):
        _both(text, rows, 10.0)


def test_a_step_of_the_thing_at_a_window_edge_drops_that_timer() -> None:
    # The window of x loses its 0 s point at 60 s, but y is read at exactly 60 s: the engine drops the
    # timer (its deadline is not after the step) and the average stays until x is read again.
    rows: list[Row] = [(0.0, "t:a", X, 10.0, None), (30.0, "t:a", X, 20.0, None), (60.0, "t:a", Y, 1.0, None)]
    rows.append((75.0, "t:a", X, 30.0, None))
    text = 'twins D = things "t:*"\ncompute D out.avg = avg(p.x, 60s)\ncompute D out.y = p.y\n'
    engine, vector = _both(text, rows, 200.0)
    _assert_same(engine, vector)
    avg = [(r[0], r[3]) for r in vector.rows if r[2] == "/features/out/properties/avg"]
    assert avg == [(0.0, 10.0), (30.0, 15.0), (75.0, 25.0), (90.0, 30.0)]


def test_two_classes_on_one_thing_and_a_thing_of_none() -> None:
    text = """twins A = things "t:*"
twins B = things "t:a*"
alarm A Hi severity high when p.x > 50 clear when p.x < 40
compute A out.s = avg(p.x, 20s)
alarm B Lo severity low when p.x < 45 or p.y > 80
compute B out.d = p.x - p.y
"""
    rows: list[Row] = []
    for i in range(120):
        thing = ("t:a1", "t:a2", "t:b", "u:c")[i % 4]
        rows.append((float(i // 2), thing, X if i % 3 else Y, float((i * 29) % 100), None))
    engine, vector = _both(text, rows, 200.0)
    _assert_same(engine, vector)
    rules = {(a.thing_id, a.rule) for a in vector.transitions}
    assert ("t:a1", "Lo") in rules and ("t:b", "Hi") in rules
    assert not any(a.thing_id == "u:c" for a in vector.transitions)


@pytest.mark.parametrize(
    ("rules", "reason"),
    [
        ('twins D = things "t:*" where p.y > 1\ncompute D out.f = p.x + 1', "where"),
        ("compute D out.a = avg(p.x, 10s)\ncompute D out.b = avg(p.x, 20s)", "two lengths"),
        ("compute D out.a = avg(p.x, 10s) + p.y", "window with other inputs"),
        ("alarm D A severity low when avg(p.x, 10s) > 5", "reads a window"),
        ("compute D out.a = median(p.x, 10s)", "median"),
        ("compute D out.a = age(p.x)", "age"),
        ("compute D out.a = exp(p.x)", "not vectorized"),
        ("compute D out.a = avg(p.x * 2, 10s)", "derived series"),
    ],
)
def test_rules_the_engine_must_replay_are_named(rules: str, reason: str) -> None:
    text = rules if rules.startswith("twins") else 'twins D = things "t:*"\n' + rules
    rows: list[Row] = [(0.0, "t:a", X, 1.0, None), (1.0, "t:a", Y, 2.0, None)]
    with pytest.raises(NotVectorizable, match=reason):
        _both(text + "\n", rows, 10.0)


def test_a_result_crosses_a_pipe_whole() -> None:
    import pickle

    rows = [(i * 0.5, f"t:{i % 4}", X if i % 3 else Y, 50.0 + i % 37, None) for i in range(300)]
    _engine, result = _both(RULES, rows, 300.0)
    back = pickle.loads(pickle.dumps(result))
    assert isinstance(back, VectorResult) and len(back.transitions) > 3
    assert back.transitions == result.transitions and back.phases == result.phases
    assert list(back.rows) == list(result.rows) and back.readings == result.readings


def test_partitions_with_alarm_timers_at_one_instant_are_left_to_the_engine() -> None:
    import numpy as np

    from centinela.rules.vector_data import ComputedRows

    def part(things: tuple[str, ...], ticks: list[float]) -> VectorResult:
        empty, ints = np.zeros(0), np.zeros(0, dtype=np.int64)
        return VectorResult([], ComputedRows(empty, ints, ints, empty, (), things, ()), 0, [], ticks)

    merged = VectorResult.merge([part(("t:a",), [5.0]), part(("t:b",), [6.0])])
    assert merged.tick_times == [5.0, 6.0]
    with pytest.raises(NotVectorizable, match="same instant"):
        VectorResult.merge([part(("t:a",), [5.0]), part(("t:b",), [5.0])])


def test_computed_rows_of_partitions_with_other_keys_merge_in_time_order() -> None:
    import numpy as np

    from centinela.rules.vector_data import ComputedRows

    a = ComputedRows(
        np.array([1.0, 2.0, 3.0]), np.array([0, 0, 1]), np.array([0, 0, 0]), np.array([10.0, 11.0, 12.0]),
        ("f",), ("t:a", "t:b"), ("/y",), np.array([0, 0, 2]),
    )  # fmt: skip
    b = ComputedRows(
        np.array([1.0, 3.0, 3.0]), np.array([0, 0, 0]), np.array([1, 0, 1]), np.array([20.0, 21.0, 22.0]),
        ("f", "f"), ("t:c",), ("/x", "/y"), np.array([0, 0, 2]),
    )  # fmt: skip
    merged = ComputedRows.merge([a, b])
    assert list(merged) == [
        (1.0, "t:a", "/y", 10.0),
        (1.0, "t:c", "/y", 20.0),
        (2.0, "t:a", "/y", 11.0),
        (3.0, "t:c", "/x", 21.0),  # a reading comes before the timers of its instant
        (3.0, "t:b", "/y", 12.0),
        (3.0, "t:c", "/y", 22.0),
    ]
