"""Outputs: readings batched per thing into Ditto Protocol merge commands, sent to a twin store or a bus.

Where the source time goes (the engine uses it as event time):

- header `centinela-source-time`: the newest source time in the command, epoch milliseconds;
- header `put-metadata` (Ditto's own metadata mechanism): per property, `sourceTime` (epoch ms)
  and `quality`, keyed by the property's pointer relative to the command's path `/features`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from centinela.adapters.readings import Quality, Reading
from centinela.errors import AdapterError, BusError, TwinError
from centinela.ports import Bus, TwinStore
from centinela.twin.messages import command_envelope
from centinela.twin.protocol import decode

__all__ = [
    "BusSink",
    "Command",
    "CommandRejected",
    "OutputUnavailable",
    "Sink",
    "TwinSink",
    "batch_commands",
    "connectivity_command",
    "merge_command",
]

SOURCE_TIME_HEADER = "centinela-source-time"
ORIGIN_HEADER = "centinela-origin"


class OutputUnavailable(AdapterError):
    """The output (twin store, bus, Ditto) cannot take commands right now; retry later.

    `sent` counts the leading commands of the failed call that were delivered anyway.
    """

    def __init__(self, message: str, *, sent: int = 0) -> None:
        super().__init__(message)
        self.sent = sent


class CommandRejected(AdapterError):
    """The output refused command number `index` of a call for good (retrying cannot help)."""

    def __init__(self, message: str, *, index: int) -> None:
        super().__init__(message)
        self.index = index


@dataclass(frozen=True, slots=True)
class Command:
    """One Ditto Protocol command for one thing, ready to send or to queue."""

    thing_id: str
    envelope: Mapping[str, Any]

    def to_json(self) -> bytes:
        return json.dumps(self.envelope, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: bytes | str) -> Command:
        envelope = decode(data)
        thing_id = envelope.topic.entity_id if envelope.topic is not None else None
        if thing_id is None:
            msg = f"The queued command {str(data)[:120]} names no thing in its topic."
            raise AdapterError(msg)
        return cls(thing_id, envelope.to_json())


_ids = itertools.count()
_PREFIX = uuid.uuid4().hex[:12]


def merge_command(
    thing_id: str, path: str, value: Any, headers: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The Ditto Protocol envelope (as JSON) of a twin merge command: an RFC 7396 patch at `path`."""
    hdrs = {"correlation-id": f"{_PREFIX}-{next(_ids)}", **(headers or {})}
    return command_envelope(thing_id, "merge", path, value, headers=hdrs).to_json()


def _ms(seconds: float) -> int:
    return int(round(seconds * 1000))


def _command(thing_id: str, readings: Sequence[Reading], origin: str) -> Command:
    value: dict[str, Any] = {}
    metadata: list[dict[str, Any]] = []
    for r in readings:
        value.setdefault(r.feature, {"properties": {}})["properties"][r.property] = r.value
        meta = {"sourceTime": _ms(r.time), "quality": r.quality.value}
        metadata.append({"key": r.pointer(), "value": meta})
    headers = {
        SOURCE_TIME_HEADER: str(_ms(max(r.time for r in readings))),
        "put-metadata": json.dumps(metadata, separators=(",", ":")),
        ORIGIN_HEADER: origin,
    }
    return Command(thing_id, merge_command(thing_id, "/features", value, headers))


def batch_commands(readings: Iterable[Reading], *, origin: str = "adapter") -> list[Command]:
    """Group readings per thing into merge commands, in arrival order.

    A property never appears twice in one command: a second reading of it starts the thing's
    next command, so no reading is lost to the merge. Readings without a value (`BAD`) are
    skipped; the thing's connectivity status reports them.
    """
    groups: dict[str, list[list[Reading]]] = {}
    taken: dict[str, set[tuple[str, str]]] = {}  # properties in each thing's current command
    for reading in readings:
        if reading.quality is Quality.BAD or reading.value is None:
            continue
        batches = groups.setdefault(reading.thing_id, [[]])
        seen = taken.setdefault(reading.thing_id, set())
        prop = (reading.feature, reading.property)
        if prop in seen:
            batches.append([])
            seen.clear()
        seen.add(prop)
        batches[-1].append(reading)
    return [_command(thing, batch, origin) for thing, batches in groups.items() for batch in batches]


def connectivity_command(
    thing_id: str, online: bool, last_seen: float | None, now: float, *, origin: str = "adapter"
) -> Command:
    """A merge of the thing's `connectivity` feature: `status` online/offline and `lastSeen` (epoch ms)."""
    properties: dict[str, Any] = {"status": "online" if online else "offline"}
    if last_seen is not None:
        properties["lastSeen"] = _ms(last_seen)
    headers = {SOURCE_TIME_HEADER: str(_ms(now)), ORIGIN_HEADER: origin}
    value = {"connectivity": {"properties": properties}}
    return Command(thing_id, merge_command(thing_id, "/features", value, headers))


class Sink(Protocol):
    """Where commands go; raises `OutputUnavailable` when the output cannot take them now."""

    async def send(self, commands: Sequence[Command]) -> None: ...

    async def aclose(self) -> None: ...


class TwinSink:
    """Applies each command to a `TwinStore` (embedded twin service or Ditto) as a merge.

    With `create_missing`, a thing the store does not have is created (empty) on first write.
    """

    def __init__(self, store: TwinStore, *, create_missing: bool = False) -> None:
        self._store = store
        self._create_missing = create_missing

    async def send(self, commands: Sequence[Command]) -> None:
        for i, command in enumerate(commands):
            env = command.envelope
            if i % 64 == 63:
                await asyncio.sleep(0)  # an in-process store never suspends: let devices be polled
            try:
                try:
                    await self._store.merge(
                        command.thing_id, env["path"], env["value"], headers=env["headers"]
                    )
                except TwinError as exc:
                    if not (self._create_missing and exc.error == "things:thing.notfound"):
                        raise
                    # A thing the store does not know yet: create it with what this command holds.
                    await self._store.modify(command.thing_id, "/", {"features": {}})
                    await self._store.merge(
                        command.thing_id, env["path"], env["value"], headers=env["headers"]
                    )
            except TwinError as exc:
                msg = f"The twin store answered a merge of {command.thing_id} with {exc.status}: {exc}"
                if exc.status >= 500 or exc.status in (408, 429):
                    raise OutputUnavailable(msg, sent=i) from exc
                raise CommandRejected(msg, index=i) from exc
            except OSError as exc:
                msg = f"The twin store cannot be reached for {command.thing_id}: {exc}"
                raise OutputUnavailable(msg, sent=i) from exc

    async def aclose(self) -> None:
        return None


class BusSink:
    """Publishes each command as JSON on a bus topic, keyed by thing id (Kafka `telemetry.raw`)."""

    def __init__(self, bus: Bus, topic: str = "telemetry.raw") -> None:
        self._bus = bus
        self._topic = topic

    async def send(self, commands: Sequence[Command]) -> None:
        try:
            for command in commands:
                await self._bus.publish(self._topic, command.thing_id, command.to_json())
            await self._bus.flush()
        except (BusError, OSError) as exc:
            msg = f"The bus cannot take commands for topic {self._topic}: {exc}"
            raise OutputUnavailable(msg) from exc

    async def aclose(self) -> None:
        return None
