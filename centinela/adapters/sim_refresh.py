"""The refresh loop both well-pad simulators share: write the model's sample every interval."""

from __future__ import annotations

import asyncio
import contextlib

from centinela.adapters.wellpad import WellPad
from centinela.clock import SystemClock
from centinela.ports import Clock

__all__ = ["WellPadRefresher"]


class WellPadRefresher:
    """Keeps a simulated device current: `update(elapsed)` every `interval` seconds of `clock`.

    Subclasses write the sample into their protocol's server in `update`; `_start_refresh` and
    `_stop_refresh` run and stop the loop. A restarted loop keeps the original start time, so the
    scripted excursions stay where they were.
    """

    def __init__(self, *, seed: int, cycle: float | None, interval: float, clock: Clock | None) -> None:
        self.model = WellPad(seed, cycle=cycle)
        self._interval = interval
        self._clock = clock or SystemClock()
        self._task: asyncio.Task[None] | None = None
        self.started_at = 0.0

    async def update(self, elapsed: float) -> None:
        """Write the model's values at `elapsed` seconds after the start."""
        raise NotImplementedError

    def _start_refresh(self, name: str) -> None:
        self._task = asyncio.create_task(self._run(), name=name)

    async def _stop_refresh(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        tick = int((self._clock.now() - self.started_at) / self._interval)
        while True:
            await self.update(self._clock.now() - self.started_at)
            tick += 1
            await self._clock.sleep_until(self.started_at + tick * self._interval)
