"""Per-thing time series with sliding windows: flat arrays, running sums and monotonic deques, event time.

A `PointSeries` keeps the (time, value) points of one series of one thing for `horizon` seconds
(the longest window the loaded rules need over it) in flat arrays (times and numeric values as
`array('d')`, a head index, the oldest points dropped in bulk) and answers window queries over
`(now - w, now]`. Each distinct window length gets a `_Window` the first time it is asked for: a
range of the series' arrays with running sum / sum of squares (and monotonic deques for min and
max once asked), so an update costs O(1) amortised and touches no old Python object.

Points arrive in event-time order almost always. A point older than the newest is *out of order*:
it is inserted at its place (the windows are rebuilt) and counted; a point older than the horizon is
*late*: it cannot change any window, is counted and dropped. Nothing is silently misordered.

Every query returns `MISSING` when it is undefined (empty window, no previous value). Queries whose
answer changes with time alone record in `wake` when that will happen, for the scheduler.
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_left, bisect_right
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
    """Running aggregates over the numeric points of the last `seconds`: the series' points `[start, end)`.

    The window keeps no points of its own: `start` and `end` index the series' flat arrays (shifted
    when the series drops its oldest points), `n` counts the numeric points between them. The min /
    max deques of (time, value) are kept only once `min` or `max` has been asked of the window
    (`extrema`): they are a function of the points in the window, so building them late gives the
    same deques as keeping them from the start.
    """

    __slots__ = ("seconds", "now", "start", "end", "n", "total", "squares", "lows", "highs", "extrema")

    def __init__(self, seconds: float, start: int) -> None:
        self.seconds = seconds
        self.now = -math.inf
        self.start = self.end = start
        self.n = 0
        self.total = 0.0
        self.squares = 0.0
        self.lows: deque[tuple[float, float]] = deque()
        self.highs: deque[tuple[float, float]] = deque()
        self.extrema = False

    def _track(self, t: float, x: float) -> None:
        lows, highs = self.lows, self.highs
        while lows and lows[-1][1] >= x:
            lows.pop()
        lows.append((t, x))
        while highs and highs[-1][1] <= x:
            highs.pop()
        highs.append((t, x))

    def evict(self, series: PointSeries, now: float) -> None:
        """Move the window's lower edge to `now - seconds`."""
        self.now = now
        edge = now - self.seconds
        times, xs, i, end = series.times, series.xs, self.start, self.end
        mixed = series.mixed
        while i < end and times[i] <= edge:
            if not mixed or series.numeric(i):
                x = xs[i]
                self.total -= x
                self.squares -= x * x
                self.n -= 1
            i += 1
        self.start = i
        if not self.n:
            self.total = self.squares = 0.0
        if self.extrema:
            while self.lows and self.lows[0][0] <= edge:
                self.lows.popleft()
            while self.highs and self.highs[0][0] <= edge:
                self.highs.popleft()


class PointSeries:
    """The history of one series of one thing; implements the `Series` protocol of the compiled rules.

    Points are kept in flat arrays: `times` and `xs` (the numeric value, 0.0 for a value that is not
    a number) as `array('d')` and, once a value that is not a float was taken, `vals` (the values as
    given; None while `xs` holds them all); the live points are `[head, len)`.
    `mixed` is set once a value that is not a float was taken (the windows then check each point).
    """

    __slots__ = (
        "horizon",
        "times",
        "xs",
        "vals",
        "head",
        "mixed",
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
        self.times = array("d")
        self.xs = array("d")
        self.vals: list[Any] | None = None
        self.head = 0
        self.mixed = False
        self.windows: dict[float, _Window] = {}
        self.last_time: float | None = None
        self.last_value: Any = MISSING
        self.prev_value: Any = MISSING
        self.has_prev = False
        self.integral_total = 0.0
        self.out_of_order = 0
        self.late = 0
        self.wake: float | None = None

    @property
    def points(self) -> list[tuple[float, Any]]:
        """The live (time, value) points, oldest first."""
        h = self.head
        vals = self.vals if self.vals is not None else self.xs
        return list(zip(self.times[h:], vals[h:], strict=True))

    def numeric(self, i: int) -> bool:
        """Whether point `i` of the arrays is a number (it counts in the windows)."""
        vals = self.vals
        return vals is None or vals[i].__class__ is float or _num(vals[i]) is not None

    def _raw(self) -> list[Any]:
        """The values as given, kept from now on (a value that is not a float is about to be taken)."""
        self.mixed = True
        if self.vals is None:
            self.vals = list(self.xs)
        return self.vals

    # ------------------------------------------------------------------ updates

    def append(self, t: float, value: Any) -> None:
        """Add a reading (MISSING is ignored); one older than the horizon is counted in `late`."""
        if value is not MISSING:
            self.add(t, value)

    def add(self, t: float, value: Any) -> bool:
        """Add a reading; return False when it is too late to matter (older than the horizon)."""
        last = self.last_time
        if value.__class__ is float and not self.mixed and last is not None and t > last:
            # The streaming case: a float newer than the last point of a series of floats only.
            self.wake = None  # the rules reading this series run next and say when it changes again
            held = self.last_value
            self.integral_total += held * (t - last)
            self.prev_value = held
            self.has_prev = True
            self.last_time = t
            self.last_value = value
            v: float = value
            times = self.times
            times.append(t)
            xs = self.xs
            xs.append(v)
            n = len(times)
            head = self.head
            edge = t - self.horizon
            while n - head > 2 and times[head + 1] <= edge:
                head += 1  # one point before the edge stays: it holds its value into the window
            self.head = head
            windows = self.windows
            if windows:
                stale = None
                sq = v * v
                for seconds, window in windows.items():
                    if window.now > t:  # it was queried ahead of this reading: rebuild on demand
                        stale = [seconds] if stale is None else [*stale, seconds]
                        continue
                    window.end = n
                    window.now = t
                    if window.extrema:
                        window.n += 1
                        window.total += v
                        window.squares += sq
                        window._track(t, v)
                        if times[window.start] <= t - seconds:
                            window.evict(self, t)
                        continue
                    # `window.evict` inline: numbers only, no min / max deques
                    count, total, squares = window.n + 1, window.total + v, window.squares + sq
                    wedge = t - seconds
                    i = window.start
                    if times[i] <= wedge:
                        while i < n and times[i] <= wedge:
                            gone = xs[i]
                            total -= gone
                            squares -= gone * gone
                            count -= 1
                            i += 1
                        window.start = i
                        if not count:
                            total = squares = 0.0
                    window.n, window.total, window.squares = count, total, squares
                if stale is not None:
                    for seconds in stale:
                        del windows[seconds]
            if head >= 64 and head * 2 >= n:
                self._compact()
            return True
        if last is not None:
            if t < last:
                return self._insert_late(t, value)
            if t == last:
                if value == self.last_value:
                    return True  # the same reading again: nothing to count twice
                self._replace_last(value)
                return True
        x: float | None
        if value.__class__ is float:
            x = value
        else:
            x = _num(value)
            self._raw()
        self.wake = None  # the rules reading this series run next and say when it changes again
        if last is not None:
            held = self.last_value
            if held.__class__ is not float:
                held = _num(held)
            if held is not None:
                self.integral_total += held * (t - last)
            self.prev_value, self.has_prev = self.last_value, True
        self.last_time, self.last_value = t, value
        times = self.times
        times.append(t)
        self.xs.append(0.0 if x is None else x)
        if self.vals is not None:
            self.vals.append(value)
        n = len(times)
        head = self.head
        edge = t - self.horizon
        while n - head > 2 and times[head + 1] <= edge:
            head += 1  # one point before the edge stays: it holds its value into the window
        self.head = head
        windows = self.windows
        if windows:
            stale = None
            for seconds, window in windows.items():
                if window.now > t:  # it was queried ahead of this reading: rebuild on demand
                    stale = [seconds] if stale is None else [*stale, seconds]
                    continue
                window.end = n
                if x is not None:
                    window.n += 1
                    window.total += x
                    window.squares += x * x
                    if window.extrema:
                        window._track(t, x)
                window.now = t
                if times[window.start] <= t - seconds:
                    window.evict(self, t)
            if stale is not None:
                for seconds in stale:
                    del windows[seconds]
        if head >= 64 and head * 2 >= n:
            self._compact()
        return True

    def _compact(self) -> None:
        """Drop the points before every window and the horizon from the arrays."""
        cut = self.head
        for window in self.windows.values():
            cut = min(cut, window.start)
        if cut <= 0:
            return
        del self.times[:cut]
        del self.xs[:cut]
        if self.vals is not None:
            del self.vals[:cut]
        self.head -= cut
        for window in self.windows.values():
            window.start -= cut
            window.end -= cut

    def _replace_last(self, value: Any) -> None:
        x = _num(value)
        if value.__class__ is not float:
            self._raw()
        if self.vals is not None:
            self.vals[-1] = value
        self.xs[-1] = 0.0 if x is None else x
        self.last_value = value
        self.windows.clear()

    def _insert_late(self, t: float, value: Any) -> bool:
        assert self.last_time is not None
        if t <= self.last_time - self.horizon:
            self.late += 1
            return False
        times = self.times
        vals: Any = self.vals if self.vals is not None else self.xs
        i = bisect_left(times, t, lo=self.head)
        while i < len(times) and times[i] == t:
            if vals[i] == value:
                return True  # the same reading again (redelivered): already counted
            i += 1
        self.out_of_order += 1
        x = _num(value)
        if value.__class__ is not float:
            self._raw()
        times.insert(i, t)
        self.xs.insert(i, 0.0 if x is None else x)
        if self.vals is not None:
            self.vals.insert(i, value)
        vals = self.vals if self.vals is not None else self.xs
        self.windows.clear()  # rebuilt on demand from the points, in order
        self.prev_value = vals[-2] if len(vals) - self.head > 1 else MISSING
        return True

    def _window(self, now: float, seconds: float) -> _Window:
        window = self.windows.get(seconds)
        last = self.last_time
        times = self.times
        if window is not None and now == window.now and (last is None or now >= last):
            # Already evicted at `now` (the streaming case: the reading's own `add`).
            if window.n:
                self._wake(self._first_time(window) + seconds, now)
            return window
        if window is None or now < window.now or (last is not None and now < last):
            # A query behind the newest data (a timer before a delayed reading) gets a window of
            # its own; only windows that move forward with the data are kept and updated.
            window = _Window(seconds, self.head)
            end = bisect_right(times, now, lo=self.head)
            xs = self.xs
            for i in range(self.head, end):
                if self.numeric(i):
                    x = xs[i]
                    window.n += 1
                    window.total += x
                    window.squares += x * x
            window.end = end
            if last is None or now >= last:
                self.windows[seconds] = window
        window.evict(self, now)
        if window.n:
            self._wake(self._first_time(window) + seconds, now)
        return window

    def _numeric_points(self, w: _Window) -> list[tuple[float, float]]:
        times, xs = self.times, self.xs
        return [(times[i], xs[i]) for i in range(w.start, w.end) if not self.mixed or self.numeric(i)]

    def _first_time(self, w: _Window) -> float:
        if not self.mixed:
            return self.times[w.start]
        return self._numeric_points(w)[0][0]

    def _extrema(self, w: _Window) -> None:
        """Start keeping the min / max deques of a window, built from the points now in it."""
        if not w.extrema:
            w.extrema = True
            for t, x in self._numeric_points(w):
                w._track(t, x)

    def _wake(self, when: float, now: float) -> None:
        if self.wake is None or self.wake <= now or when < self.wake:
            self.wake = when

    # ------------------------------------------------------------------ window queries

    def avg(self, now: float, seconds: float) -> Any:
        w = self.windows.get(seconds)
        if w is not None and now == w.now and now == self.last_time:
            # `_window`'s streaming case inline: the window was moved to `now` by this reading
            if not w.n:
                return MISSING
            when = (self.times[w.start] if not self.mixed else self._first_time(w)) + seconds
            wake = self.wake
            if wake is None or wake <= now or when < wake:
                self.wake = when
            return w.total / w.n
        w = self._window(now, seconds)
        return w.total / w.n if w.n else MISSING

    def sum(self, now: float, seconds: float) -> Any:
        w = self._window(now, seconds)
        return w.total if w.n else MISSING

    def count(self, now: float, seconds: float) -> Any:
        return self._window(now, seconds).n

    def min(self, now: float, seconds: float) -> Any:
        w = self._window(now, seconds)
        self._extrema(w)
        return w.lows[0][1] if w.lows else MISSING

    def max(self, now: float, seconds: float) -> Any:
        w = self._window(now, seconds)
        self._extrema(w)
        return w.highs[0][1] if w.highs else MISSING

    def stddev(self, now: float, seconds: float) -> Any:
        w = self._window(now, seconds)
        n = w.n
        if n < 2:
            return MISSING
        mean = w.total / n
        return math.sqrt(max(0.0, (w.squares - n * mean * mean) / (n - 1)))

    def _sorted(self, now: float, seconds: float) -> list[float]:
        return sorted(x for _, x in self._numeric_points(self._window(now, seconds)))

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

    def _ends(self, now: float, seconds: float) -> tuple[tuple[float, float], tuple[float, float]] | None:
        """The first and last numeric points of the window, or None with fewer than two."""
        w = self._window(now, seconds)
        if w.n < 2:
            return None
        if not self.mixed:
            times, xs = self.times, self.xs
            return (times[w.start], xs[w.start]), (times[w.end - 1], xs[w.end - 1])
        pts = self._numeric_points(w)
        return pts[0], pts[-1]

    def delta(self, now: float, seconds: float) -> Any:
        ends = self._ends(now, seconds)
        if ends is None:
            return MISSING
        return ends[1][1] - ends[0][1]

    def rate(self, now: float, seconds: float) -> Any:
        ends = self._ends(now, seconds)
        if ends is None or ends[1][0] == ends[0][0]:
            return MISSING
        return (ends[1][1] - ends[0][1]) / (ends[1][0] - ends[0][0])

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
        points = self.points
        n = sum(1 for t, v in points if edge < t <= now and v is not MISSING and bool(v))
        if points and points[0][0] > edge:
            self._wake(points[0][0] + seconds, now)
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
        for t, v in data["points"]:
            x = _num(v)
            if v.__class__ is not float:
                series._raw()
            series.times.append(float(t))
            series.xs.append(0.0 if x is None else x)
            if series.vals is not None:
                series.vals.append(v)
        if data["points"]:
            series.last_time, series.last_value = series.times[-1], data["points"][-1][1]
        series.has_prev = bool(data["has_prev"])
        series.prev_value = data["prev"] if series.has_prev else MISSING
        series.integral_total = float(data["integral"])
        series.out_of_order = int(data["out_of_order"])
        series.late = int(data["late"])
        series.wake = data.get("wake")
        return series
