"""`KafkaConnectivity`: the embedded twin service doing what Ditto's Kafka connection does.

Sources: records on the source addresses (`telemetry.raw`, `twin.commands`) are Ditto Protocol
commands; their enforcement (`{{ header:kafka.key }}` must be the command's thing id) and header
mapping are applied, then the command is applied to the store. Targets: every twin event of the
store is published to the target address (`twin.events/{{ thing:id }}`: topic `twin.events`, key
the thing id) with the target's header mapping as Kafka headers.

Nothing is silently dropped: a record that is not a Ditto Protocol command, fails enforcement or is
refused by the store goes to `<topic>.dlq` with the reason. Offsets are committed after the
commands are applied (the store persists before it answers) and dead letters are flushed: when the
stream pauses, else every `commit_seconds`, and on close; a commit runs beside the commands, so no
round trip to the broker holds up the next command.
With `freeze_gc`, the process's long-lived objects stay out of full garbage collections while the
connection runs (`centinela.gcfreeze.GcFreezer`; process-wide, for a process that runs it for its
lifetime), which keeps those collections' pauses out of the commands' latency.
Twin events are published as they happen; when the stream pauses, at most every `flush_seconds`,
a background check waits for the broker's acknowledgement of what was published (and logs a
failure) while publishing goes on. The `authorizationContext` is not enforced: the embedded
service has no policy enforcement.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Any, Self

from centinela.errors import BusError, TwinError
from centinela.gcfreeze import GcFreezer
from centinela.infra.dlq import dead_letter
from centinela.ports import Bus, Consumer, Record, ThingEvent
from centinela.twin.connectivity.config import Connection, Fill, Source, Target, compile_template
from centinela.twin.dispatch import apply_command
from centinela.twin.events import EventSubscription
from centinela.twin.messages import event_json
from centinela.twin.protocol import Envelope, Kind, decode, dumps
from centinela.twin.store import EmbeddedTwinStore

try:
    import orjson
except ImportError:  # pragma: no cover - orjson is part of the `kafka` extra
    orjson = None  # type: ignore[assignment]

__all__ = ["KafkaConnectivity"]

log = logging.getLogger(__name__)


class KafkaConnectivity:
    """Run a Ditto Kafka connection against an `EmbeddedTwinStore`; use as an async context manager."""

    def __init__(
        self,
        connection: Connection,
        bus: Bus,
        store: EmbeddedTwinStore,
        *,
        group: str | None = None,
        batch: int = 500,
        poll_seconds: float = 0.5,
        commit_seconds: float = 1.0,
        flush_seconds: float = 0.5,
        freeze_gc: bool = False,
    ) -> None:
        self.connection = connection
        self._bus = bus
        self._store = store
        self._group = group or f"ditto-connectivity-{connection.id}"
        self._batch = batch
        self._poll = poll_seconds
        self._commit_every = commit_seconds
        self._flush_every = flush_seconds
        self._freezer = GcFreezer() if freeze_gc else None
        self._uncommitted: dict[tuple[str, int], Record] = {}
        self._rejected_since_commit = False
        self._sources: dict[str, _SourcePlan] = {
            a: _SourcePlan.of(s) for s in connection.sources for a in s.addresses
        }
        self._targets: tuple[_TargetPlan, ...] = tuple(
            _TargetPlan.of(t) for t in connection.targets if t.twin_events
        )
        self._consumer: Consumer | None = None
        self._subscription: EventSubscription | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.applied = 0
        self.dead_lettered = 0
        self.published = 0

    async def start(self) -> None:
        if self._targets:
            self._subscription = self._store.subscribe()
            self._tasks.append(asyncio.create_task(self._publish_events(), name="connectivity-targets"))
        if self._sources:
            self._consumer = await self._bus.consumer(sorted(self._sources), group=self._group)
            self._tasks.append(asyncio.create_task(self._consume(), name="connectivity-sources"))
        if self._freezer is not None:
            self._freezer.__enter__()

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self._consumer is not None:
            try:
                await self._commit()
            except BusError as exc:  # the records come again to the next member: commands are idempotent
                log.warning("connection %s: last commit failed: %s", self.connection.id, exc)
            await self._consumer.aclose()
        if self._subscription is not None:
            await self._subscription.aclose()
        await self._bus.flush()
        if self._freezer is not None:
            self._freezer.__exit__(None, None, None)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ sources

    async def _consume(self) -> None:
        assert self._consumer is not None
        loop = asyncio.get_running_loop()
        last_commit = loop.time()
        committing: asyncio.Task[None] | None = None  # one commit at a time, beside the commands
        try:
            while True:
                try:
                    records = await self._consumer.getmany(timeout=self._poll, max_records=self._batch)
                    for record in records:
                        await self._apply(record)
                        self._uncommitted[(record.topic, record.partition)] = record
                    due = not records or loop.time() - last_commit >= self._commit_every  # a pause, or time
                    if self._uncommitted and due and (committing is None or committing.done()):
                        committing = asyncio.create_task(self._commit_quietly(), name="connectivity-commit")
                        last_commit = loop.time()
                    if self._freezer is not None:
                        self._freezer.refreeze()
                except BusError as exc:
                    log.warning("connection %s: %s; retrying", self.connection.id, exc)
                    await asyncio.sleep(0.5)
        finally:
            if committing is not None:
                await asyncio.gather(committing, return_exceptions=True)

    async def _commit_quietly(self) -> None:
        try:
            await self._commit()
        except BusError as exc:  # the offsets stay uncommitted: the next commit covers them
            log.warning("connection %s: commit failed: %s", self.connection.id, exc)

    async def _commit(self) -> None:
        """Commit past the applied commands, once their dead letters (if any) are durable."""
        if not self._uncommitted or self._consumer is None:
            return
        done = list(self._uncommitted.values())
        if self._rejected_since_commit:
            self._rejected_since_commit = False  # a rejection from now on is flushed by the next commit
            try:
                await self._bus.flush()
            except BusError:
                self._rejected_since_commit = True
                raise
        await self._consumer.commit(done)
        for record in done:
            where = (record.topic, record.partition)
            if self._uncommitted.get(where) is record:
                del self._uncommitted[where]

    async def _reject(self, record: Record, reason: str, error: BaseException | None = None) -> None:
        self.dead_lettered += 1
        self._rejected_since_commit = True
        log.warning("connection %s: %s", self.connection.id, reason)
        await dead_letter(self._bus, record, reason, error=error)

    async def _apply(self, record: Record) -> None:
        source = self._sources[record.topic]
        headers = {k: v.decode("utf-8", "replace") for k, v in record.headers}
        headers["kafka.topic"] = record.topic
        if record.key is not None:
            headers["kafka.key"] = record.key
        try:
            command = _decode(record.value)
        except TwinError as exc:
            reason = f"The record {_where(record)} is not a Ditto Protocol message: {exc.message}"
            await self._reject(record, reason, exc)
            return
        thing_id = command.topic.entity_id if command.topic is not None else None
        if source.enforce is not None:
            given = source.enforce(thing_id, headers)
            if given is None or all(f(thing_id, headers) != given for f in source.allowed):
                reason = (
                    f"The record {_where(record)} fails enforcement: its {source.enforcement_input} is "
                    f"{given!r}, but the command is for thing {thing_id!r}."
                )
                await self._reject(record, reason)
                return
        mapped = _map_headers(source.header_mapping, thing_id, headers)
        if mapped:
            command = replace(command, headers={**command.headers, **mapped})
        response = await apply_command(self._store, command, answer=False)
        if response.kind is Kind.ERROR or (response.status or 0) >= 400:
            body: Mapping[str, Any] = response.value if isinstance(response.value, Mapping) else {}
            reason = (
                f"The twin store refused the command {command.topic} of record {_where(record)}: "
                f"{response.status} {body.get('error', '')}: {body.get('message', '')}"
            )
            await self._reject(record, reason)
            return
        self.applied += 1

    # ------------------------------------------------------------------ targets

    async def _publish_events(self) -> None:
        assert self._subscription is not None
        loop = asyncio.get_running_loop()
        last_flush = loop.time()
        check: asyncio.Task[None] | None = None
        try:
            async for event in self._subscription:
                for target in self._targets:
                    await self._publish(target, event)
                if self._subscription.pending == 0 and loop.time() - last_flush >= self._flush_every:
                    if check is None or check.done():  # one check at a time, never in the way
                        check = asyncio.create_task(self._check_published(), name="connectivity-flush")
                    last_flush = loop.time()
        finally:
            if check is not None:
                check.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await check

    async def _check_published(self) -> None:
        """Wait for the broker to acknowledge the events published so far; report a failure."""
        try:
            await self._bus.flush()
        except BusError as exc:
            log.error("connection %s: twin events were not acknowledged: %s", self.connection.id, exc)

    async def _publish(self, target: _TargetPlan, event: ThingEvent) -> None:
        message = event_json(event)
        headers = {k: str(v) for k, v in message["headers"].items()}
        address = target.address(event.thing_id, headers)
        if address is None:
            log.warning("connection %s: no address for the event of %s", self.connection.id, event.thing_id)
            return
        topic, _, key = address.partition("/")
        kafka_headers = [
            (k, v.encode()) for k, v in _map_headers(target.header_mapping, event.thing_id, headers).items()
        ]
        await self._bus.publish(topic, key or None, _encode(message), kafka_headers)
        self.published += 1


@dataclass(frozen=True, slots=True)
class _SourcePlan:
    """A source's templates compiled once: enforcement input and filters, header mapping."""

    enforcement_input: str
    enforce: Fill | None
    allowed: tuple[Fill, ...]
    header_mapping: tuple[tuple[str, Fill], ...]

    @classmethod
    def of(cls, source: Source) -> _SourcePlan:
        rule = source.enforcement
        return cls(
            rule.input if rule is not None else "",
            compile_template(rule.input) if rule is not None else None,
            tuple(compile_template(f) for f in rule.filters) if rule is not None else (),
            _compiled(source.header_mapping),
        )


@dataclass(frozen=True, slots=True)
class _TargetPlan:
    """A target's address template and header mapping, compiled once."""

    address: Fill
    header_mapping: tuple[tuple[str, Fill], ...]

    @classmethod
    def of(cls, target: Target) -> _TargetPlan:
        return cls(compile_template(target.address), _compiled(target.header_mapping))


def _compiled(mapping: Mapping[str, str]) -> tuple[tuple[str, Fill], ...]:
    return tuple((name, compile_template(template)) for name, template in mapping.items())


def _where(record: Record) -> str:
    return f"{record.topic}[{record.partition}]@{record.offset}"


def _decode(data: bytes) -> Envelope:
    """A Ditto Protocol message (orjson when installed; the strict codec reports what is wrong)."""
    if orjson is not None:
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            return decode(data)
        return Envelope.from_json(obj)
    return decode(data)


def _encode(message: dict[str, Any]) -> bytes:
    if orjson is not None:
        try:
            return orjson.dumps(message)
        except TypeError:  # e.g. an integer beyond 64 bits
            pass
    return dumps(message).encode()


def _map_headers(
    mapping: tuple[tuple[str, Fill], ...], thing_id: str | None, headers: Mapping[str, str]
) -> dict[str, str]:
    """Apply a header mapping; a header whose placeholders have no value is left out (as Ditto does)."""
    out: dict[str, str] = {}
    for name, fill in mapping:
        value = fill(thing_id, headers)
        if value is not None:
            out[name] = value
    return out
