"""`EngineWorker`: a member of a Kafka consumer group running the rules over Ditto twin events.

Each owned partition of the source topic has its own `Engine` (a thing's events all land in one
partition, keyed by thing id). A batch of records is decoded and applied; the effects go to the
sinks (merge commands, alarm topics, history). A checkpoint — at most every `checkpoint_seconds`,
when partitions are revoked, and on stop — does, in this order: flush the sinks → save each
partition's touched things and next offset (one `StateStore.save`) → commit the offsets.

The periodic checkpoint does not stop processing: its snapshot (the touched things' state and the
offsets) is taken between two batches, then flush → save → commit run in the background while the
next batches are processed (one checkpoint in flight at a time). If it fails, the worker rewinds
to the last checkpoint that completed, as for any failed effect. Revocation and stop wait for the
checkpoint in flight, then checkpoint synchronously.

Rebalances: `on_revoked` checkpoints the partitions being lost (under the same lock as batch
processing, so a half-processed batch is never split); `on_assigned` restores the gained
partitions' engines from the state store. Records below a restored partition's saved offset are
already reflected in the state and are skipped, so a crash between saving state and committing
neither loses nor repeats a transition.

How a thing gets bound without reading a twin store: from the events themselves. A `created`
event (path `/`) carries the whole thing; a change of a thing not yet bound binds it from the
event's value at its path plus the event's `extra` fields (Ditto's `extraFields` enrichment, e.g.
`definition,attributes`), accumulated in memory until a class matches. After a restart the bound
things come back from the partition checkpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time as _time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from centinela.dsl.program import Program
from centinela.errors import BusError, HistoryError, StateError, TwinError
from centinela.gcfreeze import GcFreezer
from centinela.infra.dlq import dead_letter
from centinela.ports import Bus, Consumer, Record, StateStore
from centinela.rules.engine import Engine
from centinela.rules.event_codec import decode_change, decode_event
from centinela.rules.output import StepOutput, pointer_parts
from centinela.rules.partition_state import partition_prefix, restore_partition, snapshot_items
from centinela.rules.runtime import event_time, source_times
from centinela.rules.sinks import ORIGIN_HEADER, Sink

__all__ = ["EngineWorker", "WorkerSettings"]

log = logging.getLogger(__name__)

@dataclass(frozen=True, slots=True)
class WorkerSettings:
    """Where a worker reads, which group it joins, and how often it checkpoints."""

    topic: str = "twin.events"
    group: str = "rules"
    batch: int = 2000
    """Most records taken per poll; each is one engine step, the sinks get one output per batch."""
    poll_seconds: float = 0.1
    """How long a poll waits when no record is there (records return at once when there are)."""
    checkpoint_seconds: float = 1.0
    """At most this long between checkpoints (flush sinks → save state → commit offsets)."""
    retry_seconds: float = 1.0
    """Pause before trying again to restore the last checkpoint after a failure."""
    freeze_gc: bool = False
    """Keep the process's long-lived objects out of full garbage collections while running
    (`centinela.gcfreeze.GcFreezer`, process-wide: for a process that runs this worker for its
    lifetime; `centinela run --source` turns it on)."""


@dataclass(slots=True)
class _Partition:
    engine: Engine
    prefix: str
    skip_below: int | None
    last: Record | None = None
    partial: dict[str, dict[str, Any]] = field(default_factory=dict)


class EngineWorker:
    """Consumes `settings.topic` in `settings.group`; run with `await worker.run(stop)`."""

    def __init__(
        self,
        program: Program,
        bus: Bus,
        state: StateStore,
        sinks: Sequence[Sink],
        settings: WorkerSettings | None = None,
        *,
        now: Callable[[], float] = _time.time,
    ) -> None:
        self.program = program
        self.bus = bus
        self.state = state
        self.sinks = list(sinks)
        self.settings = settings or WorkerSettings()
        self._now = now
        self._parts: dict[tuple[str, int], _Partition] = {}
        self._lock = asyncio.Lock()
        self._consumer: Consumer | None = None
        self._rebalancing = False
        self._inflight: asyncio.Task[None] | None = None  # the background checkpoint
        self._broken: Exception | None = None  # a checkpoint failed: rewind before going on
        self.events = 0
        self.ignored_own = 0
        self.skipped = 0
        self.dead_lettered = 0
        self.checkpoints = 0
        self.failures = 0
        self.on_output: Callable[[StepOutput], None] | None = None

    @property
    def partitions(self) -> list[tuple[str, int]]:
        """The partitions this worker owns (and holds engine state for) now."""
        return sorted(self._parts)

    # ------------------------------------------------------------------ lifecycle

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Consume until `stop` is set (or the task is cancelled), then checkpoint and leave the group.

        When an effect cannot be made durable (bus, history or state store failing), the worker
        rewinds: every owned partition goes back to its saved state and committed offset, and the
        records are processed again once the stores answer.
        """
        with GcFreezer() if self.settings.freeze_gc else contextlib.nullcontext() as freezer:
            await self._run(stop or asyncio.Event(), freezer)

    async def _run(self, stop: asyncio.Event, freezer: GcFreezer | None) -> None:
        s = self.settings
        consumer = await self._open()
        loop = asyncio.get_running_loop()
        last_checkpoint = loop.time()
        try:
            while not stop.is_set():
                try:
                    records = await consumer.getmany(timeout=s.poll_seconds, max_records=s.batch)
                    async with self._lock:
                        self._check_inflight()
                        out = StepOutput()  # one output per batch: one merge per thing, one publish pass
                        await self._process(records, out)
                        self._advance(out)
                        await self._emit(out)
                        due = loop.time() - last_checkpoint >= s.checkpoint_seconds
                        if due and self._inflight is None:
                            self._begin_checkpoint()
                            last_checkpoint = loop.time()
                    if freezer is not None:
                        freezer.refreeze()
                except (BusError, HistoryError, StateError) as exc:
                    self.failures += 1
                    log.warning("group %s: %s; going back to the last checkpoint", s.group, exc)
                    consumer = await self._recover(consumer, stop)
        finally:
            try:
                async with self._lock:
                    await self._checkpoint(list(self._parts))
            finally:
                self._consumer = None
                await consumer.aclose()

    async def _open(self) -> Consumer:
        s = self.settings
        opener: Any = self.bus.consumer
        consumer: Consumer
        if "on_assigned" in inspect.signature(opener).parameters:
            consumer = await opener([s.topic], group=s.group, on_assigned=self._assigned,
                                    on_revoked=self._revoked)
            self._rebalancing = True
        else:  # a bus without rebalance callbacks (in-process): partitions restore lazily
            consumer = await self.bus.consumer([s.topic], group=s.group)
        self._consumer = consumer
        return consumer

    async def _recover(self, consumer: Consumer, stop: asyncio.Event) -> Consumer:
        """Rewind, retrying every `retry_seconds` while the state store cannot be read."""
        while True:
            await asyncio.sleep(self.settings.retry_seconds)
            try:
                return await self._rewind(consumer)
            except (BusError, StateError) as exc:
                if stop.is_set():
                    raise
                log.warning("group %s: cannot restore the last checkpoint yet: %s", self.settings.group, exc)

    async def _rewind(self, consumer: Consumer) -> Consumer:
        """Drop what is not checkpointed: restore the owned partitions, re-read from the committed offsets."""
        async with self._lock:
            try:
                await self._settle()
            except Exception:  # noqa: S110 - that checkpoint did not complete: back to the one before
                pass
            keys = list(self._parts)
            self._parts.clear()
            for key in keys:
                await self._restore(key)
            self._broken = None
            seek = getattr(consumer, "seek_to_committed", None)
            if seek is not None:
                await seek()
                return consumer
        await consumer.aclose()
        return await self._open()

    async def checkpoint(self) -> None:
        """Make every effect durable, save the state of every owned partition, commit the offsets."""
        async with self._lock:
            await self._checkpoint(list(self._parts))

    # ------------------------------------------------------------------ rebalancing

    async def _assigned(self, partitions: list[tuple[str, int]]) -> None:
        async with self._lock:
            for key in partitions:
                if key not in self._parts:
                    await self._restore(key)
            log.info("group %s: assigned %s", self.settings.group, partitions)

    async def _revoked(self, partitions: list[tuple[str, int]]) -> None:
        async with self._lock:
            owned = [k for k in partitions if k in self._parts]
            try:
                await self._checkpoint(owned)
            finally:
                for key in owned:
                    del self._parts[key]
            log.info("group %s: revoked %s", self.settings.group, partitions)

    async def _restore(self, key: tuple[str, int]) -> _Partition:
        engine = Engine(self.program)
        prefix = partition_prefix(self.settings.group, *key)
        saved = await restore_partition(engine, self.state, prefix)
        part = self._parts[key] = _Partition(engine, prefix, saved)
        return part

    # ------------------------------------------------------------------ processing

    async def _process(self, records: list[Record], out: StepOutput) -> None:
        """Apply a batch of records, one engine step each (records of a partition come together)."""
        now = self._now()
        where: tuple[str, int] | None = None
        part: _Partition | None = None
        for record in records:
            if (record.topic, record.partition) != where:
                where = (record.topic, record.partition)
                part = self._parts.get(where)
                if part is None and not self._rebalancing:  # in-process bus: restore lazily
                    part = await self._restore(where)
            if part is None:  # not ours (any more): its owner processes it
                continue
            part.last = record
            if part.skip_below is not None and record.offset < part.skip_below:
                self.skipped += 1
                continue
            if record.headers and (ORIGIN_HEADER, b"engine") in record.headers:
                self.ignored_own += 1
                continue
            change = decode_change(record.value)
            if change is None:
                await self._handle_full(part, record, now, out)
            elif change.own:
                self.ignored_own += 1
            else:
                self.events += 1
                self._apply(part, change.thing_id, change.action, change.path, change.value, change.extra,
                            now if change.time is None else change.time, None, out)

    async def _handle_full(self, part: _Partition, record: Record, now: float, out: StepOutput) -> None:
        """A record the fast decoder leaves to the full codec: decode strictly, or dead-letter it."""
        try:
            event = decode_event(record.value)
        except TwinError as exc:
            self.dead_lettered += 1
            where = f"{record.topic}[{record.partition}]@{record.offset}"
            reason = f"The record {where} is not a Ditto Protocol twin event: {exc.message}"
            log.warning("group %s: %s", self.settings.group, reason)
            await dead_letter(self.bus, record, reason, error=exc)
            return
        if event.headers.get(ORIGIN_HEADER) == "engine":
            self.ignored_own += 1
            return
        self.events += 1
        self._apply(part, event.thing_id, event.action, event.path, event.value, event.extra,
                    event_time(event, now), source_times(event), out)

    def _apply(
        self,
        part: _Partition,
        thing_id: str,
        action: str,
        path: str,
        value: Any,
        extra: Mapping[str, Any] | None,
        when: float,
        times: dict[str, float] | None,
        out: StepOutput,
    ) -> None:
        engine = part.engine
        if action == "deleted" and path == "/":
            engine.contexts.pop(thing_id, None)
            part.partial.pop(thing_id, None)
            engine.touched.add(thing_id)
            return
        contexts = engine.contexts.get(thing_id)
        if not contexts:
            if path == "/" and isinstance(value, dict):
                doc = dict(value)
            else:
                doc = part.partial.setdefault(thing_id, {})
                _put(doc, path, value)
            if extra:
                _deep_merge(doc, extra)
            doc["thingId"] = thing_id
            engine.bind(doc, when, out)
            if engine.contexts.get(thing_id):
                part.partial.pop(thing_id, None)
                engine.touched.add(thing_id)
            else:
                engine.contexts.pop(thing_id, None)
                part.partial[thing_id] = doc
            return
        if not times and len(contexts) == 1 and path in contexts[0].twin_class.inputs:
            engine.ingest(thing_id, path, value, when, out)  # what ingest_change does for one input
        else:
            engine.ingest_change(thing_id, path, value, when, out, merge=action == "merged", times=times)
        engine.touched.add(thing_id)

    def _advance(self, out: StepOutput) -> None:
        now = self._now()
        for part in self._parts.values():
            wake = part.engine.next_wake()
            if wake is not None and wake <= now:
                part.engine.advance(now, out)

    async def _emit(self, out: StepOutput) -> None:
        if not out:
            return
        for sink in self.sinks:
            await sink.emit(out)
        if self.on_output is not None:
            self.on_output(out)

    def _check_inflight(self) -> None:
        """Raise what the background checkpoint raised, once it is done (until the worker rewinds)."""
        task = self._inflight
        if task is not None and task.done():
            self._inflight = None
            if not task.cancelled() and isinstance(exc := task.exception(), Exception):
                self._broken = exc
        if self._broken is not None:
            raise self._broken

    async def _settle(self) -> None:
        """Wait for the background checkpoint; raise what it raised (until the worker rewinds).

        A failed checkpoint leaves the state store behind the engines (their touched things were
        handed to it), so nothing may be saved or committed until the worker has rewound.
        """
        task, self._inflight = self._inflight, None
        if task is not None:
            try:
                await task
            except Exception as exc:
                self._broken = exc
        if self._broken is not None:
            raise self._broken

    def _begin_checkpoint(self) -> None:
        """Snapshot every owned partition now; flush, save and commit it in the background."""
        parts = list(self._parts.values())
        if not any(p.last is not None or p.engine.touched for p in parts):
            return
        items: dict[str, bytes | None] = {}
        for part in parts:
            offset = part.last.offset + 1 if part.last is not None else None
            items.update(snapshot_items(part.engine, part.prefix, offset))
        done = [p.last for p in parts if p.last is not None]
        for part in parts:
            part.last = None
        self._inflight = asyncio.create_task(self._persist(items, done), name="engine-checkpoint")

    async def _persist(self, items: dict[str, bytes | None], done: list[Record]) -> None:
        for sink in self.sinks:
            await sink.flush()
        await self.bus.flush()  # dead letters
        if items:
            await self.state.save(items)
        if done and self._consumer is not None:
            await self._consumer.commit(done)
        self.checkpoints += 1

    async def _checkpoint(self, keys: Sequence[tuple[str, int]]) -> None:
        await self._settle()
        parts = [self._parts[k] for k in keys if k in self._parts]
        if not any(p.last is not None or p.engine.touched for p in parts):
            return
        for sink in self.sinks:
            await sink.flush()
        await self.bus.flush()  # dead letters
        items: dict[str, bytes | None] = {}
        touched = [(part, set(part.engine.touched)) for part in parts]
        for part in parts:
            offset = part.last.offset + 1 if part.last is not None else None
            items.update(snapshot_items(part.engine, part.prefix, offset))
        if items:
            try:
                await self.state.save(items)
            except BaseException:
                for part, things in touched:  # not saved: still to be saved
                    part.engine.touched |= things
                raise
        done = [p.last for p in parts if p.last is not None]
        if done and self._consumer is not None:
            await self._consumer.commit(done)
        for part in parts:
            part.last = None
        self.checkpoints += 1


def _put(doc: dict[str, Any], pointer: str, value: Any) -> None:
    parts = pointer_parts(pointer)
    if not parts:
        if isinstance(value, dict):
            doc.update(value)
        return
    node = doc
    for name in parts[:-1]:
        child = node.get(name)
        if not isinstance(child, dict):
            child = node[name] = {}
        node = child
    node[parts[-1]] = value


def _deep_merge(doc: dict[str, Any], extra: Mapping[str, Any]) -> None:
    for name, value in extra.items():
        if isinstance(value, Mapping) and isinstance(doc.get(name), dict):
            _deep_merge(doc[name], value)
        else:
            doc[name] = value
