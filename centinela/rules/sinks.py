"""Sinks: where an engine step's effects go — the twin (one merge per thing), bus topics, history."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Protocol

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

ORIGIN_HEADER = "centinela-origin"
ORIGIN = {ORIGIN_HEADER: "engine"}


class Sink(Protocol):
    async def emit(self, out: StepOutput) -> None: ...

    async def flush(self) -> None: ...


def alarm_topic(severity: str) -> str:
    """Critical and high alarms go to `alarms.critical`, medium and low to `alarms.warnings`."""
    return "alarms.critical" if severity in ("critical", "high") else "alarms.warnings"


class TwinSink:
    """Computed features and alarm states, one merge patch per thing, marked as the engine's own."""

    def __init__(self, twin: TwinStore) -> None:
        self.twin = twin

    async def emit(self, out: StepOutput) -> None:
        for thing_id, patch in out.patches.items():
            await self.twin.merge(thing_id, "/", patch, headers=ORIGIN)

    async def flush(self) -> None:
        return None


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
        if out.samples:
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
