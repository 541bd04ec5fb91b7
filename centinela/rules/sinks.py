"""Sinks: where an engine step's effects go — the twin (one merge per thing), bus topics, history."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from typing import Any, Protocol

from centinela.errors import CentinelaError
from centinela.ports import Bus, HistoryStore, TwinStore
from centinela.rules.output import StepOutput

__all__ = [
    "ORIGIN_HEADER",
    "BusSink",
    "HistorySink",
    "ListSink",
    "Sink",
    "TwinSink",
    "alarm_topic",
    "emit_all",
]

log = logging.getLogger(__name__)

ORIGIN_HEADER = "centinela-origin"
ORIGIN = {ORIGIN_HEADER: "engine"}


class Sink(Protocol):
    async def emit(self, out: StepOutput) -> None: ...

    async def flush(self) -> None: ...


def alarm_topic(severity: str) -> str:
    """Critical and high alarms go to `alarms.critical`, medium and low to `alarms.warnings`."""
    return "alarms.critical" if severity in ("critical", "high") else "alarms.warnings"


class TwinSink:
    """Computed features and alarm states, one merge patch per thing, marked as the engine's own.

    With `coalesce=True` the patches are handed to a writer task: steps that pile up while it writes
    are merged per thing (later values win), so under load a thing gets one merge for several steps
    instead of one per step, and the engine is not held up by the twin store. `flush()` waits for
    everything handed over to be written.
    """

    YIELD_EVERY = 16
    """Merges the coalescing writer makes before it lets other tasks run."""

    def __init__(self, twin: TwinStore, *, coalesce: bool = False) -> None:
        self.twin = twin
        self.coalesce = coalesce
        self._pending: dict[str, dict[str, Any]] = {}
        self._writer: asyncio.Task[None] | None = None
        self.merges = 0

    async def emit(self, out: StepOutput) -> None:
        if not self.coalesce:
            for thing_id, patch in out.patches.items():
                await self.twin.merge(thing_id, "/", patch, headers=ORIGIN)
                self.merges += 1
            return
        for thing_id, changes in out.changes.items():
            self._pending.setdefault(thing_id, {}).update(changes)
        if self._pending and (self._writer is None or self._writer.done()):
            self._writer = asyncio.create_task(self._write())

    async def _write(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, {}
            step = StepOutput()
            step.changes.update(batch)
            for n, (thing_id, patch) in enumerate(step.patches.items(), 1):
                try:
                    await self.twin.merge(thing_id, "/", patch, headers=ORIGIN)
                    self.merges += 1
                except CentinelaError as exc:
                    log.warning("Writing the engine's merge to %s failed: %s", thing_id, exc)
                if n % self.YIELD_EVERY == 0:
                    # An in-process store never suspends a merge: let new readings be processed
                    # between slices of a long batch (what piles up meanwhile is coalesced).
                    await asyncio.sleep(0)

    async def flush(self) -> None:
        while self._writer is not None and not self._writer.done():
            await asyncio.shield(self._writer)


class BusSink:
    def __init__(self, bus: Bus) -> None:
        self.bus = bus

    async def emit(self, out: StepOutput) -> None:
        for event in out.alarms:
            value = json.dumps(event.to_json(), sort_keys=True).encode()
            await self.bus.publish(alarm_topic(event.severity), event.thing_id, value)

    async def flush(self) -> None:
        await self.bus.flush()


class HistorySink:
    def __init__(self, history: HistoryStore) -> None:
        self.history = history

    async def emit(self, out: StepOutput) -> None:
        if out.rows:
            await self.history.write_samples(out.samples)
        if out.alarms:
            await self.history.write_alarms([a.record() for a in out.alarms])

    async def flush(self) -> None:
        await self.history.flush()


class ListSink:
    """Keeps every effect in memory (tests, `centinela test`, backtest)."""

    def __init__(self) -> None:
        self.out = StepOutput()

    async def emit(self, out: StepOutput) -> None:
        self.out.extend(out)

    async def flush(self) -> None:
        return None


async def emit_all(sinks: Sequence[Sink], out: StepOutput) -> None:
    for sink in sinks:
        await sink.emit(out)
