"""Clocks: the wall clock for production and a manual clock that tests advance by hand."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time

__all__ = ["ManualClock", "SystemClock"]


class SystemClock:
    """UTC wall-clock time."""

    def now(self) -> float:
        return time.time()

    async def sleep_until(self, when: float) -> None:
        delay = when - time.time()
        if delay > 0:
            await asyncio.sleep(delay)


class ManualClock:
    """Virtual time that moves only when `advance` or `set` is called; sleepers wake in time order."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._now

    async def sleep_until(self, when: float) -> None:
        if when <= self._now:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (when, next(self._seq), future))
        await future

    async def advance(self, seconds: float) -> None:
        """Move time forward by `seconds`, waking every sleeper due on the way, in order."""
        await self.set(self._now + seconds)

    async def set(self, when: float) -> None:
        """Move time forward to `when` (never backwards)."""
        if when < self._now:
            msg = f"ManualClock cannot go back from {self._now} to {when}."
            raise ValueError(msg)
        while self._sleepers and self._sleepers[0][0] <= when:
            due, _, future = heapq.heappop(self._sleepers)
            self._now = due
            if not future.done():
                future.set_result(None)
            # Let the woken task run before time moves on.
            await asyncio.sleep(0)
        self._now = when
