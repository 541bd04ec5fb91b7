"""Ports: the small protocols the engine, adapters and services talk through.

Each port has an in-process implementation shipped in the package (embedded mode and unit
tests) and real ones (Ditto, Kafka, PostgreSQL/TimescaleDB, Redis). Implementations are named
`<Tech><Port>`: `EmbeddedTwinStore`, `DittoTwinStore`, `MemoryBus`, `KafkaBus`,
`SqliteHistoryStore`, `PostgresHistoryStore`, `MemoryStateStore`, `RedisStateStore`.

Times inside Centinela are UTC epoch seconds as `float`; durations are seconds.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Protocol, Self, runtime_checkable

__all__ = [
    "AlarmRecord",
    "Bus",
    "Clock",
    "Consumer",
    "HistoryStore",
    "Record",
    "Sample",
    "StateStore",
    "Subscription",
    "ThingEvent",
    "TwinStore",
]

JSON = Any
"""A JSON value as decoded by `json.loads`."""


# --------------------------------------------------------------------------- twins


@dataclass(frozen=True, slots=True)
class ThingEvent:
    """One twin change, as Ditto reports it (`things/twin/events/<action>`), decoded.

    `path` is a JSON pointer relative to the thing (`/` for the whole thing,
    `/features/pressure/properties/tubing` for one property); `value` is the new JSON value at
    that path (`None` for `deleted`). `timestamp` is the event's time (epoch seconds) and
    `headers` the Ditto headers the change carried (a writer's own `correlation-id` or
    `centinela-origin` come back here, which is how the engine recognises its own writes).
    `extra` holds the fields requested with `extraFields`, as a partial thing.
    """

    thing_id: str
    action: str
    path: str
    value: JSON
    revision: int
    timestamp: float | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    extra: Mapping[str, JSON] | None = None


class Subscription(Protocol):
    """A stream of twin events; close it (or leave its `async with`) to stop receiving."""

    def __aiter__(self) -> AsyncIterator[ThingEvent]: ...

    async def aclose(self) -> None: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


@runtime_checkable
class TwinStore(Protocol):
    """Where twins live: the embedded twin service or a real Eclipse Ditto.

    Paths are JSON pointers relative to the thing. Errors are `TwinError`s carrying Ditto's
    status and error code (404 `things:thing.notfound`, 412 `things:precondition.failed`, ...).
    """

    async def retrieve(self, thing_id: str, path: str = "/", *, fields: str | None = None) -> JSON:
        """Return the JSON value at `path` of a thing (the whole thing for `/`)."""
        ...

    async def modify(
        self, thing_id: str, path: str, value: JSON, *, headers: Mapping[str, str] | None = None
    ) -> int:
        """Create or replace the value at `path`; return the thing's new revision."""
        ...

    async def merge(
        self, thing_id: str, path: str, value: JSON, *, headers: Mapping[str, str] | None = None
    ) -> int:
        """Apply an RFC 7396 merge patch at `path` (null deletes); return the new revision."""
        ...

    async def delete(
        self, thing_id: str, path: str = "/", *, headers: Mapping[str, str] | None = None
    ) -> None:
        """Delete the value at `path` (the whole thing for `/`)."""
        ...

    def search(
        self,
        *,
        filter: str | None = None,
        namespaces: Sequence[str] | None = None,
        fields: str | None = None,
    ) -> AsyncIterator[JSON]:
        """Yield every thing matching an RQL `filter`, paging as needed."""
        ...

    def subscribe(
        self,
        *,
        namespaces: Sequence[str] | None = None,
        filter: str | None = None,
        extra_fields: str | None = None,
    ) -> Subscription:
        """Subscribe to twin events (Ditto's `START-SEND-EVENTS`)."""
        ...


# --------------------------------------------------------------------------- bus


@dataclass(frozen=True, slots=True)
class Record:
    """One message on the bus: a Kafka record, or its in-process equivalent."""

    topic: str
    key: str | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()
    partition: int = 0
    offset: int = -1
    timestamp: float | None = None


class Consumer(Protocol):
    """A member of a consumer group. Commit only after the effects of the records are durable."""

    async def getmany(self, *, timeout: float = 1.0, max_records: int = 1000) -> list[Record]:
        """Return the next records (possibly none after `timeout` seconds)."""
        ...

    async def commit(self, records: Sequence[Record] | None = None) -> None:
        """Commit the offsets past `records` (all records returned so far when `None`)."""
        ...

    async def aclose(self) -> None: ...


class Bus(Protocol):
    """Topics with keyed records: Kafka in distributed mode, in-process otherwise."""

    async def publish(
        self,
        topic: str,
        key: str | None,
        value: bytes,
        headers: Sequence[tuple[str, bytes]] = (),
    ) -> None:
        """Publish one record; it is durable once `flush()` returns."""
        ...

    async def flush(self) -> None: ...

    async def consumer(self, topics: Sequence[str], *, group: str) -> Consumer:
        """Join `group` and consume `topics`; records of one key arrive in order."""
        ...

    async def aclose(self) -> None: ...


# --------------------------------------------------------------------------- history


@dataclass(frozen=True, slots=True)
class Sample:
    """One reading or computed value: a row of the `telemetry` table."""

    time: float
    thing_id: str
    path: str
    value: float | None
    value_json: JSON = None


@dataclass(frozen=True, slots=True)
class AlarmRecord:
    """One alarm transition: a row of the `alarm_events` table."""

    time: float
    alarm_id: str
    thing_id: str
    rule: str
    state: str
    severity: str
    value: float | None
    message: str
    details: Mapping[str, JSON] = field(default_factory=dict)


class HistoryStore(Protocol):
    """Readings, computed values and alarm transitions over time.

    Writes are buffered and batched; `flush()` returns once they are committed. Writing the
    same (thing, path, time) twice keeps one row.
    """

    async def write_samples(self, samples: Sequence[Sample]) -> None: ...

    async def write_alarms(self, records: Sequence[AlarmRecord]) -> None: ...

    async def flush(self) -> None: ...

    async def query(
        self,
        thing_id: str,
        path: str,
        start: float,
        end: float,
        *,
        bucket: float | None = None,
    ) -> list[tuple[float, float | None]]:
        """Raw `(time, value)` pairs, or `bucket`-second averages when `bucket` is given."""
        ...

    def replay(
        self, start: float, end: float, *, thing_ids: Sequence[str] | None = None
    ) -> AsyncIterator[Sample]:
        """Yield stored samples in time order (for backtest)."""
        ...

    async def aclose(self) -> None: ...


# --------------------------------------------------------------------------- state


class StateStore(Protocol):
    """Checkpoints of engine state, keyed by name; `save` is atomic over its items."""

    async def load(self, key: str) -> bytes | None: ...

    async def load_prefix(self, prefix: str) -> dict[str, bytes]: ...

    async def save(self, items: Mapping[str, bytes | None]) -> None:
        """Store every item at once; a `None` value deletes its key."""
        ...

    async def aclose(self) -> None: ...


# --------------------------------------------------------------------------- time


class Clock(Protocol):
    """The only way the runtime reads time: `SystemClock` in production, `ManualClock` in tests."""

    def now(self) -> float:
        """Current time, UTC epoch seconds."""
        ...

    async def sleep_until(self, when: float) -> None:
        """Return once `now() >= when`."""
        ...
