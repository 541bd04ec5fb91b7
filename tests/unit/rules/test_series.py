"""Windows of `PointSeries` against direct computation over the points, plus ordering and staleness."""

from __future__ import annotations

import math
import random
import statistics

import pytest

from centinela.dsl.program import MISSING
from centinela.rules.series import PointSeries


def _in_window(points: list[tuple[float, float]], now: float, w: float) -> list[float]:
    return [x for t, x in points if now - w < t <= now]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_running_windows_match_direct_computation(seed: int) -> None:
    rng = random.Random(seed)
    series = PointSeries(horizon=60.0)
    points: list[tuple[float, float]] = []
    t = 0.0
    for _ in range(400):
        t += rng.uniform(0.1, 3.0)
        x = rng.uniform(-50, 50)
        points.append((t, x))
        series.append(t, x)
        now = t + rng.choice([0.0, 0.5, 2.0])
        for w in (5.0, 30.0, 60.0):
            xs = _in_window(points, now, w)
            if not xs:
                assert series.avg(now, w) is MISSING
                continue
            assert series.avg(now, w) == pytest.approx(sum(xs) / len(xs))
            assert series.min(now, w) == min(xs)
            assert series.max(now, w) == max(xs)
            assert series.count(now, w) == len(xs)
            assert series.median(now, w) == pytest.approx(statistics.median(xs))
            if len(xs) > 1:
                assert series.stddev(now, w) == pytest.approx(statistics.stdev(xs), rel=1e-6, abs=1e-6)
                assert series.delta(now, w) == pytest.approx(xs[-1] - xs[0])


@pytest.mark.parametrize("seed", [4, 5])
def test_min_and_max_first_asked_late_match_direct_computation(seed: int) -> None:
    rng = random.Random(seed)
    series = PointSeries(horizon=30.0)
    points: list[tuple[float, float]] = []
    t = 0.0
    for i in range(300):
        t += rng.uniform(0.1, 2.0)
        x = float(rng.randint(0, 20))  # ties, so equal values in the window are exercised
        points.append((t, x))
        series.append(t, x)
        xs = _in_window(points, t, 30.0)
        assert series.avg(t, 30.0) == pytest.approx(sum(xs) / len(xs))
        if i >= 150:  # the window has run for a while on averages only
            assert series.min(t, 30.0) == min(xs)
            assert series.max(t, 30.0) == max(xs)


def test_previous_changed_rising_falling() -> None:
    s = PointSeries(horizon=0.0)
    assert s.previous() is MISSING and s.changed() is MISSING and s.rising() is MISSING
    s.append(1.0, False)
    s.append(2.0, True)
    assert s.previous() is False
    assert s.changed() is True
    assert s.rising() is True and s.falling() is False
    s.append(3.0, False)
    assert s.falling() is True


def test_out_of_order_reading_is_placed_and_counted_late_one_dropped() -> None:
    s = PointSeries(horizon=10.0)
    for t in (1.0, 2.0, 4.0):
        s.append(t, t)
    assert s.max(4.0, 10.0) == 4.0
    assert s.add(3.0, 30.0)
    assert s.out_of_order == 1
    assert s.max(4.0, 10.0) == 30.0
    assert [t for t, _ in s.points] == [1.0, 2.0, 3.0, 4.0]
    assert s.last_value == 4.0  # the newest reading by event time stays the current value
    s.append(40.0, 1.0)
    assert not s.add(20.0, 5.0)
    assert s.late == 1


def test_same_reading_twice_is_counted_once() -> None:
    s = PointSeries(horizon=60.0)
    s.append(1.0, 5.0)
    s.append(2.0, 7.0)
    s.append(2.0, 7.0)
    assert s.count(2.0, 60.0) == 2
    assert s.sum(2.0, 60.0) == 12.0


def test_stale_and_age_report_when_they_change() -> None:
    s = PointSeries(horizon=0.0)
    assert s.stale(0.0, 300.0) is MISSING
    s.append(100.0, 1.0)
    assert s.stale(200.0, 300.0) is False
    assert s.wake == 400.0
    assert s.stale(400.0, 300.0) is True
    assert s.age(450.0) == 350.0


def test_integral_holds_values_and_rate_is_per_second() -> None:
    s = PointSeries(horizon=100.0)
    s.append(0.0, 10.0)
    s.append(10.0, 20.0)
    s.append(20.0, 20.0)
    assert s.integral(30.0) == pytest.approx(10 * 10 + 20 * 20)
    assert s.integral(30.0, 15.0) == pytest.approx(15 * 20)
    assert s.rate(20.0, 100.0) == pytest.approx(0.5)


def test_count_and_duration_true() -> None:
    s = PointSeries(horizon=60.0)
    for t, v in [(0.0, False), (10.0, True), (20.0, False), (30.0, True)]:
        s.append(t, v)
    assert s.count_true(40.0, 60.0) == 2
    assert s.duration_true(40.0, 60.0) == pytest.approx(10 + 10)
    assert s.duration_true(40.0, 15.0) == pytest.approx(10)


def test_snapshot_round_trip_keeps_answers() -> None:
    s = PointSeries(horizon=30.0)
    for i in range(50):
        s.append(float(i), math.sin(i))
    copy = PointSeries.from_json(30.0, s.to_json())
    for w in (5.0, 30.0):
        assert copy.avg(49.0, w) == pytest.approx(s.avg(49.0, w))
        assert copy.max(49.0, w) == s.max(49.0, w)
    assert copy.previous() == s.previous()
    assert copy.integral(49.0) == s.integral(49.0)


def test_redelivered_old_reading_is_not_inserted_twice() -> None:
    s = PointSeries(horizon=60.0)
    for t in (1.0, 2.0, 3.0):
        s.append(t, t * 10)
    assert s.add(2.0, 20.0)
    assert s.out_of_order == 0
    assert s.count(3.0, 60.0) == 3


def test_values_that_are_not_floats_keep_their_type_and_count_only_when_numeric() -> None:
    s = PointSeries(horizon=60.0)
    s.append(1.0, 2.0)
    s.append(2.0, 4.0)
    s.append(3.0, 6)  # an int: counts as 6.0, stays an int
    s.append(4.0, "off")  # not a number: kept, not in the windows
    s.append(5.0, True)
    assert [v for _, v in s.points] == [2.0, 4.0, 6, "off", True]
    assert s.points[2][1].__class__ is int
    assert s.count(5.0, 60.0) == 4
    assert s.avg(5.0, 60.0) == pytest.approx((2 + 4 + 6 + 1) / 4)
    assert s.avg(5.0, 2.5) == pytest.approx((6 + 1) / 2)  # (2.5, 5]: 6, "off" and True
    s.append(70.0, 8.0)  # the first points leave the windows
    assert s.avg(70.0, 60.0) == 8.0
    copy = PointSeries.from_json(60.0, s.to_json())
    assert copy.points == s.points
    assert copy.avg(70.0, 60.0) == 8.0


def test_a_long_float_stream_drops_old_points_and_keeps_window_answers() -> None:
    s = PointSeries(horizon=10.0)
    xs: list[tuple[float, float]] = []
    for i in range(1000):
        t, x = i * 0.5, float(i % 17)
        s.append(t, x)
        xs.append((t, x))
        window = _in_window(xs, t, 10.0)
        assert s.avg(t, 10.0) == pytest.approx(sum(window) / len(window))
    assert len(s.times) < 200  # the arrays were compacted, not grown with every reading
    # the newest point at or before the horizon's edge stays: it holds its value into the window
    assert [p for p, _ in s.points] == [t for t, _ in xs if t >= 499.5 - 10.0]
