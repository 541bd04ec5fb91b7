"""Per-thing time series with sliding windows: running sums and monotonic deques, event time.

A `PointSeries` keeps the (time, value) points of one series of one thing for `horizon` seconds
(the longest window the loaded rules need over it) and answers window queries over `(now - w, now]`.
Each distinct window length gets a `_Window` the first time it is asked for: a deque with running
sum / sum of squares and monotonic deques for min and max, so an update costs O(1) amortised.

Points arrive in event-time order almost always. A point older than the newest is *out of order*:
it is inserted at its place (the windows are rebuilt) and counted; a point older than the horizon is
*late*: it cannot change any window, is counted and dropped. Nothing is silently misordered.

Every query returns `MISSING` when it is undefined (empty window, no previous value). Queries whose
answer changes with time alone record in `wake` when that will happen, for the scheduler.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import deque
from typing import Any

from centinela.dsl.program import MISSING

__all__ = ["AGE_RESOLUTION", "PointSeries"]

AGE_RESOLUTION = 1.0
"""Seconds between re-evaluations of rules over `age(x)` while no reading arrives."""


def _num(value: Any) -> float | None:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    return None


class _Window:
    """Running aggregates over the numeric points of the last `seconds`.

    The min / max deques are kept only once `min` or `max` has been asked of the window
    (`extrema`): they are a function of the points in the window, so building them late from
    `points` gives the same deques as keeping them from the start.
    """

    __slots__ = ("seconds", "now", "points", "total", "squares", "lows", "highs", "extrema")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.now = -math.inf
        self.points: deque[tuple[float, float]] = deque()
        self.total = 0.0
        self.squares = 0.0
        self.lows: deque[tuple[float, float]] = deque()
        self.highs: deque[tuple[float, float]] = deque()
        self.extrema = False

    def add(self, point: tuple[float, Any], x: float) -> None:
        """Add a reading; `point` is the series' own (time, value) tuple, shared when it is a float."""
        if point[1] is not x:
            point = (point[0], x)
        self.points.append(point)
        self.total += x
        self.squares += x * x
        if self.extrema:
            self._track(point, x)

    def _track(self, point: tuple[float, float], x: float) -> None:
        lows, highs = self.lows, self.highs
        while lows and lows[-1][1] >= x:
            lows.pop()
        lows.append(point)
        while highs and highs[-1][1] <= x:
            highs.pop()
        highs.append(point)

    def track_extrema(self) -> None:
        """Start keeping the min / max deques, built from the points now in the window."""
        if not self.extrema:
            self.extrema = True
            for point in self.points:
                self._track(point, point[1])

    def push(self, point: tuple[float, Any], x: float, now: float) -> None:
        """`add` then `evict(now)` in one call (the streaming case: a new newest reading)."""
        if point[1] is not x:
            point = (point[0], x)
        self.points.append(point)
        self.total += x
        self.squares += x * x
        if self.extrema:
            self._track(point, x)
        self.evict(now)

    def evict(self, now: float) -> None:
        self.now = now
        edge = now - self.seconds
        points = self.points
        while points and points[0][0] <= edge:
            _, x = points.popleft()
            self.total -= x
            self.squares -= x * x
        if not points:
            self.total = self.squares = 0.0
        if self.extrema:
            while self.lows and self.lows[0][0] <= edge:
                self.lows.popleft()
            while self.highs and self.highs[0][0] <= edge:
                self.highs.popleft()


class PointSeries:
    """The history of one series of one thing; implements the `Series` protocol of the compiled rules."""

    __slots__ = (
        "horizon",
        "points",
        "windows",
        "last_time",
        "last_value",
        "prev_value",
        "has_prev",
        "integral_total",
        "out_of_order",
        "late",
        "wake",
    )

    def __init__(self, horizon: float) -> None:
        self.horizon = horizon
        self.points: deque[tuple[float, Any]] = deque()
        self.windows: dict[float, _Window] = {}
        self.last_time: float | None = None
        self.last_value: Any = MISSING
        self.prev_value: Any = MISSING
        self.has_prev = False
        self.integral_total = 0.0
        self.out_of_order = 0
        self.late = 0
        self.wake: float | None = None

    # ------------------------------------------------------------------ updates

    def append(self, t: float, value: Any) -> None:
        """Add a reading (MISSING is ignored); one older than the horizon is counted in `late`."""
        if value is not MISSING:
            self.add(t, value)

    def add(self, t: float, value: Any) -> bool:
        """Add a reading; return False when it is too late to matter (older than the horizon)."""
        last = self.last_time
        if last is not None:
            if t < last:
                return self._insert_late(t, value)
            if t == last:
                if value == self.last_value:
                    return True  # the same reading again: nothing to count twice
                self._replace_last(value)
                return True
        x = value if value.__class__ is float else _num(value)
        self.wake = None  # the rules reading this series run next and say when it changes again
        if last is not None:
            held = self.last_value
            if held.__class__ is not float:
                held = _num(held)
            if held is not None:
                self.integral_total += held * (t - last)
            self.prev_value, self.has_prev = self.last_value, True
        self.last_time, self.last_value = t, value
        points = self.points
        point = (t, value)
        points.append(point)
        edge = t - self.horizon
        while len(points) > 2 and points[1][0] <= edge:
            points.popleft()  # one point before the edge stays: it holds its value into the window
        windows = self.windows
        if x is not None and windows:
            stale = None
            if value is not x:
                point = (t, x)
            for seconds, window in windows.items():
                if window.now > t:  # it was queried ahead of this reading: rebuild on demand
                    stale = [seconds] if stale is None else [*stale, seconds]
                    continue
                # `window.push(point, x, t)` inline (the streaming case, once per reading and window)
                wpoints = window.points
                wpoints.append(point)
                window.total += x
                window.squares += x * x
                if window.extrema:
                    window._track(point, x)
                window.now = t
                edge = t - seconds
                if wpoints[0][0] <= edge:
                    if window.extrema:
                        window.evict(t)
                    else:  # `evict` inline
                        while wpoints and wpoints[0][0] <= edge:
                            gone = wpoints.popleft()[1]
                            window.total -= gone
                            window.squares -= gone * gone
                        if not wpoints:
                            window.total = window.squares = 0.0
            if stale is not None:
                for seconds in stale:
                    del windows[seconds]
        return True

    def _replace_last(self, value: Any) -> None:
        self.points[-1] = (self.points[-1][0], value)
        self.last_value = value
        self.windows.clear()

    def _insert_late(self, t: float, value: Any) -> bool:
        assert self.last_time is not None
        if t <= self.last_time - self.horizon:
            self.late += 1
            return False
        i = bisect_left(self.points, t, key=lambda p: p[0])
        while i < len(self.points) and self.points[i][0] == t:
            if self.points[i][1] == value:
                return True  # the same reading again (redelivered): already counted
            i += 1
        self.out_of_order += 1
        self.points.insert(i, (t, value))
        self.windows.clear()  # rebuilt on demand from the points, in order
        self.prev_value = self.points[-2][1] if len(self.points) > 1 else MISSING
        return True

    def _window(self, now: float, seconds: float) -> _Window:
        window = self.windows.get(seconds)
        last = self.last_time
        if window is not None and now == window.now and (last is None or now >= last):
            # Already evicted at `now` (the streaming case: the reading's own `push`).
            points = window.points
            if points:
                self._wake(points[0][0] + seconds, now)
            return window
        if window is None or now < window.now or (last is not None and now < last):
            # A query behind the newest data (a timer before a delayed reading) gets a window of
            # its own; only windows that move forward with the data are kept and updated.
            window = _Window(seconds)
            for point in self.points:
                x = _num(point[1])
                if x is not None and point[0] <= now:
                    window.add(point, x)
            if last is None or now >= last:
                self.windows[seconds] = window
        window.evict(now)
        if window.points:
            self._wake(window.points[0][0] + seconds, now)
        return window

    def _wake(self, when: float, now: float) -> None:
        if self.wake is None or self.wake <= now or when < self.wake:
            self.wake = when

    # ------------------------------------------------------------------ window queries

    def avg(self, now: float, seconds: float) -> Any:
        w = self.windows.get(seconds)
        if w is not None and now == w.now and now == self.last_time:
            # `_window`'s streaming case inline: the window was moved to `now` by this reading
            points = w.points
            if not points:
                return MISSING
            when = points[0][0] + seconds
            wake = self.wake
            if wake is None or wake <= now or when < wake:
                self.wake = when
            return w.total / len(points)
        w = self._window(now, seconds)
        return w.total / len(w.points) if w.points else MISSING

    def sum(self, now: float, seconds: float) -> Any:
        w = self._window(now, seconds)
        return w.total if w.points else MISSING

    def count(self, now: float, seconds: float) -> Any:
        return len(self._window(now, seconds).points)

    def min(self, now: float, seconds: float) -> Any:
        w = self._window(now, seconds)
        w.track_extrema()
        return w.lows[0][1] if w.lows else MISSING

    def max(self, now: float, seconds: float) -> Any:
        w = self._window(now, seconds)
        w.track_extrema()
        return w.highs[0][1] if w.highs else MISSING

    def stddev(self, now: float, seconds: float) -> Any:
        w = self._window(now, seconds)
        n = len(w.points)
        if n < 2:
            return MISSING
        mean = w.total / n
        return math.sqrt(max(0.0, (w.squares - n * mean * mean) / (n - 1)))

    def _sorted(self, now: float, seconds: float) -> list[float]:
        return sorted(x for _, x in self._window(now, seconds).points)

    def median(self, now: float, seconds: float) -> Any:
        return self.percentile(now, seconds, 50.0)

    def percentile(self, now: float, seconds: float, p: float) -> Any:
        xs = self._sorted(now, seconds)
        if not xs:
            return MISSING
        rank = (len(xs) - 1) * min(max(p, 0.0), 100.0) / 100.0
        lo = math.floor(rank)
        hi = min(lo + 1, len(xs) - 1)
        return xs[lo] + (xs[hi] - xs[lo]) * (rank - lo)

    def delta(self, now: float, seconds: float) -> Any:
        w = self._window(now, seconds)
        if len(w.points) < 2:
            return MISSING
        return w.points[-1][1] - w.points[0][1]

    def rate(self, now: float, seconds: float) -> Any:
        w = self._window(now, seconds)
        if len(w.points) < 2 or w.points[-1][0] == w.points[0][0]:
            return MISSING
        return (w.points[-1][1] - w.points[0][1]) / (w.points[-1][0] - w.points[0][0])

    def integral(self, now: float, seconds: float | None = None) -> Any:
        """Time integral (value held until the next reading) since the start, or over a window."""
        if self.last_time is None:
            return MISSING
        held = _num(self.last_value) or 0.0
        if seconds is None:
            return self.integral_total + held * max(0.0, now - self.last_time)
        edge = now - seconds
        total, prev_t, prev_x = 0.0, None, None
        for t, value in self.points:
            if t > now:
                break
            if prev_t is not None and prev_x is not None:
                total += prev_x * max(0.0, t - max(prev_t, edge))
            prev_t, prev_x = t, _num(value)
        if prev_t is not None and prev_x is not None:
            total += prev_x * max(0.0, now - max(prev_t, edge))
        return total

    # ------------------------------------------------------------------ point queries

    def previous(self) -> Any:
        return self.prev_value if self.has_prev else MISSING

    def changed(self) -> Any:
        return self.last_value != self.prev_value if self.has_prev else MISSING

    def age(self, now: float) -> Any:
        """Seconds since the last reading; rules over it are re-evaluated every second without data."""
        if self.last_time is None:
            return MISSING
        self._wake(now + AGE_RESOLUTION, now)
        return now - self.last_time

    def stale(self, now: float, seconds: float) -> Any:
        if self.last_time is None:
            return MISSING
        deadline = self.last_time + seconds
        if now < deadline:
            self._wake(deadline, now)
        return now >= deadline

    def rising(self) -> Any:
        if self.last_value is MISSING or not self.has_prev or self.prev_value is MISSING:
            return MISSING
        return bool(self.last_value) and not bool(self.prev_value)

    def falling(self) -> Any:
        if self.last_value is MISSING or not self.has_prev or self.prev_value is MISSING:
            return MISSING
        return bool(self.prev_value) and not bool(self.last_value)

    def count_true(self, now: float, seconds: float) -> Any:
        edge = now - seconds
        n = sum(1 for t, v in self.points if edge < t <= now and v is not MISSING and bool(v))
        if self.points and self.points[0][0] > edge:
            self._wake(self.points[0][0] + seconds, now)
        return n

    def duration_true(self, now: float, seconds: float) -> Any:
        if self.last_time is None:
            return MISSING
        edge = now - seconds
        total, prev_t, prev_v = 0.0, None, False
        for t, value in self.points:
            if t > now:
                break
            if prev_t is not None and prev_v:
                total += max(0.0, t - max(prev_t, edge))
            prev_t, prev_v = t, value is not MISSING and bool(value)
        if prev_t is not None and prev_v:
            total += max(0.0, now - max(prev_t, edge))
            self._wake(now + seconds, now)
        return total

    # ------------------------------------------------------------------ snapshot

    def to_json(self) -> dict[str, Any]:
        return {
            "points": [[t, v] for t, v in self.points],
            "prev": self.prev_value if self.has_prev else None,
            "has_prev": self.has_prev,
            "integral": self.integral_total,
            "out_of_order": self.out_of_order,
            "late": self.late,
            "wake": self.wake,
        }

    @classmethod
    def from_json(cls, horizon: float, data: dict[str, Any]) -> PointSeries:
        series = cls(horizon)
        series.points = deque((float(t), v) for t, v in data["points"])
        if series.points:
            series.last_time, series.last_value = series.points[-1]
        series.has_prev = bool(data["has_prev"])
        series.prev_value = data["prev"] if series.has_prev else MISSING
        series.integral_total = float(data["integral"])
        series.out_of_order = int(data["out_of_order"])
        series.late = int(data["late"])
        series.wake = data.get("wake")
        return series
