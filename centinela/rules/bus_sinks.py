"""Sinks of a Kafka engine worker: computed and alarm features as Ditto merge commands, alarms by severity.

`CommandSink` publishes one Ditto Protocol merge command per thing and step to `twin.commands`
(key = thing id; `centinela-origin: engine` both as a Ditto header and as a Kafka header, so the
connectivity maps it onto the twin event and the worker ignores the echo). Alarm transitions go
through `AlarmSink` to `alarms.critical` / `alarms.warnings` (optionally prefixed, e.g. per site).

Both write compact JSON with orjson when it is installed (a value orjson cannot write, such as an
integer beyond 64 bits, falls back to `json`); a NaN or infinite number is written as `null`, since
JSON has no such numbers.
"""

from __future__ import annotations

import json
from typing import Any

from centinela.ports import Bus
from centinela.rules.output import StepOutput
from centinela.rules.sinks import ORIGIN_HEADER, alarm_topic
from centinela.twin.messages import MERGE_PATCH

try:
    import orjson
except ImportError:  # pragma: no cover - orjson is part of the `kafka` extra
    orjson = None  # type: ignore[assignment]

__all__ = ["COMMANDS_TOPIC", "AlarmSink", "CommandSink", "merge_command"]

COMMANDS_TOPIC = "twin.commands"
_ORIGIN_KAFKA = ((ORIGIN_HEADER, b"engine"),)
_HEADERS = {ORIGIN_HEADER: "engine", "content-type": MERGE_PATCH}


def _json(value: Any, *, sort_keys: bool = False) -> bytes:
    if orjson is not None:
        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS if sort_keys else 0)
        except TypeError:
            pass
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=sort_keys)
    return text.encode()


def merge_command(thing_id: str, patch: dict[str, Any]) -> bytes:
    """The Ditto Protocol merge command (at `/`, marked as the engine's) of one thing's patch, as JSON."""
    namespace, _, name = thing_id.partition(":")
    return _json({
        "topic": f"{namespace or '_'}/{name}/things/twin/commands/merge",
        "headers": _HEADERS,
        "path": "/",
        "value": patch,
    })


class CommandSink:
    """Publishes the engine's feature changes as Ditto merge commands; `flush` flushes the bus."""

    def __init__(self, bus: Bus, topic: str = COMMANDS_TOPIC) -> None:
        self.bus = bus
        self.topic = topic
        self.commands = 0

    async def emit(self, out: StepOutput) -> None:
        if not out.changes:
            return
        publish, topic = self.bus.publish, self.topic
        for thing_id, patch in out.patches.items():
            await publish(topic, thing_id, merge_command(thing_id, patch), _ORIGIN_KAFKA)
            self.commands += 1

    async def flush(self) -> None:
        await self.bus.flush()


class AlarmSink:
    """Alarm transitions as JSON keyed by thing id, to `<prefix>alarms.critical` or `…alarms.warnings`."""

    def __init__(self, bus: Bus, prefix: str = "") -> None:
        self.bus = bus
        self.prefix = prefix

    async def emit(self, out: StepOutput) -> None:
        for event in out.alarms:
            value = _json(event.to_json(), sort_keys=True)
            await self.bus.publish(self.prefix + alarm_topic(event.severity), event.thing_id, value)

    async def flush(self) -> None:
        await self.bus.flush()
