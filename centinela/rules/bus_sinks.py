"""Sinks of a Kafka engine worker: computed and alarm features as Ditto merge commands, alarms by severity.

`CommandSink` publishes one Ditto Protocol merge command per thing and step to `twin.commands`
(key = thing id; `centinela-origin: engine` both as a Ditto header and as a Kafka header, so the
connectivity maps it onto the twin event and the worker ignores the echo). Alarm transitions go
through `AlarmSink` to `alarms.critical` / `alarms.warnings` (optionally prefixed, e.g. per site).
"""

from __future__ import annotations

import json

from centinela.ports import Bus
from centinela.rules.output import StepOutput
from centinela.rules.sinks import ORIGIN_HEADER, alarm_topic
from centinela.twin.messages import command_envelope
from centinela.twin.protocol import encode

__all__ = ["COMMANDS_TOPIC", "AlarmSink", "CommandSink"]

COMMANDS_TOPIC = "twin.commands"
_ORIGIN_KAFKA = ((ORIGIN_HEADER, b"engine"),)


class CommandSink:
    """Publishes the engine's feature changes as Ditto merge commands; `flush` flushes the bus."""

    def __init__(self, bus: Bus, topic: str = COMMANDS_TOPIC) -> None:
        self.bus = bus
        self.topic = topic
        self.commands = 0

    async def emit(self, out: StepOutput) -> None:
        if not out.changes:
            return
        for thing_id, patch in out.patches.items():
            envelope = command_envelope(thing_id, "merge", "/", patch, headers={ORIGIN_HEADER: "engine"})
            await self.bus.publish(self.topic, thing_id, encode(envelope).encode(), _ORIGIN_KAFKA)
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
            value = json.dumps(event.to_json(), sort_keys=True).encode()
            await self.bus.publish(self.prefix + alarm_topic(event.severity), event.thing_id, value)

    async def flush(self) -> None:
        await self.bus.flush()
