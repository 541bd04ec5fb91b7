"""A small in-memory EvalContext and Series for exercising compiled rules without the engine."""

from __future__ import annotations

import statistics
from typing import Any

from centinela.dsl.program import MISSING


class ListSeries:
    """Every (time, value) appended, kept in a list; windows are computed by scanning (tests only)."""

    def __init__(self) -> None:
        self.points: list[tuple[float, Any]] = []

    def append(self, now: float, value: Any) -> None:
        self.points.append((now, value))

    def _window(self, now: float, seconds: float) -> list[Any]:
        return [v for t, v in self.points if now - seconds <= t <= now]

    def avg(self, now: float, seconds: float) -> Any:
        w = self._window(now, seconds)
        return sum(w) / len(w) if w else MISSING

    def min(self, now: float, seconds: float) -> Any:
        w = self._window(now, seconds)
        return min(w) if w else MISSING

    def max(self, now: float, seconds: float) -> Any:
        w = self._window(now, seconds)
        return max(w) if w else MISSING

    def sum(self, now: float, seconds: float) -> Any:
        return sum(self._window(now, seconds))

    def count(self, now: float, seconds: float) -> Any:
        return len(self._window(now, seconds))

    def stddev(self, now: float, seconds: float) -> Any:
        w = self._window(now, seconds)
        return statistics.pstdev(w) if w else MISSING

    def median(self, now: float, seconds: float) -> Any:
        w = self._window(now, seconds)
        return statistics.median(w) if w else MISSING

    def percentile(self, now: float, seconds: float, p: float) -> Any:
        w = sorted(self._window(now, seconds))
        return w[min(len(w) - 1, int(round(p / 100 * (len(w) - 1))))] if w else MISSING

    def delta(self, now: float, seconds: float) -> Any:
        w = self._window(now, seconds)
        return w[-1] - w[0] if w else MISSING

    def rate(self, now: float, seconds: float) -> Any:
        pts = [(t, v) for t, v in self.points if now - seconds <= t <= now]
        if len(pts) < 2 or pts[-1][0] == pts[0][0]:
            return MISSING
        return (pts[-1][1] - pts[0][1]) / (pts[-1][0] - pts[0][0])

    def integral(self, now: float, seconds: float | None) -> Any:
        pts = [(t, v) for t, v in self.points if seconds is None or now - seconds <= t <= now]
        if not pts:
            return MISSING
        total = 0.0
        for (t0, v0), (t1, _) in zip(pts, pts[1:], strict=False):
            total += v0 * (t1 - t0)
        return total + pts[-1][1] * (now - pts[-1][0])

    def previous(self) -> Any:
        return self.points[-2][1] if len(self.points) >= 2 else MISSING

    def changed(self) -> Any:
        return len(self.points) >= 2 and self.points[-1][1] != self.points[-2][1]

    def age(self, now: float) -> Any:
        return now - self.points[-1][0] if self.points else MISSING

    def stale(self, now: float, seconds: float) -> Any:
        return not self.points or now - self.points[-1][0] > seconds

    def rising(self) -> Any:
        return len(self.points) >= 2 and bool(self.points[-1][1]) and not self.points[-2][1]

    def falling(self) -> Any:
        return len(self.points) >= 2 and not self.points[-1][1] and bool(self.points[-2][1])

    def count_true(self, now: float, seconds: float) -> Any:
        return sum(1 for v in self._window(now, seconds) if v)

    def duration_true(self, now: float, seconds: float) -> Any:
        pts = [(t, v) for t, v in self.points if now - seconds <= t <= now]
        total = 0.0
        for (t0, v0), (t1, _) in zip(pts, pts[1:], strict=False):
            total += (t1 - t0) if v0 else 0.0
        if pts and pts[-1][1]:
            total += now - pts[-1][0]
        return total


class MemoryContext:
    """One thing's values and series; `set` records a reading the way the engine does."""

    def __init__(self, values: dict[str, Any] | None = None, now: float = 0.0) -> None:
        self.values: dict[str, Any] = dict(values or {})
        self.now = now
        self._series: dict[str, ListSeries] = {}

    def series(self, key: str) -> ListSeries:
        return self._series.setdefault(key, ListSeries())

    def set(self, key: str, value: Any, now: float | None = None) -> None:
        if now is not None:
            self.now = now
        self.values[key] = value
        self.series(key).append(self.now, value)
