"""The engine wired to a twin store: retrieve, subscribe, evaluate, emit, fire timers, checkpoint.

Checkpoint order is fixed: flush the sinks, then persist the engine state. Effects are idempotent
(deterministic alarm ids, history upserts), so effects re-emitted after a crash add nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import json
import logging
from collections.abc import Callable, Sequence
from typing import Any

from centinela.dsl.program import MISSING, Program
from centinela.errors import TwinError
from centinela.gcfreeze import GcFreezer
from centinela.ports import Clock, StateStore, ThingEvent, TwinStore
from centinela.rules.alarms import Action
from centinela.rules.engine import Engine
from centinela.rules.output import AlarmEvent, StepOutput, pointer_parts
from centinela.rules.sinks import ORIGIN_HEADER, Sink
from centinela.rules.snapshot import load_snapshot, save_snapshot

__all__ = ["SOURCE_TIME_HEADER", "Runtime", "event_time", "extra_fields_for", "source_times"]

log = logging.getLogger(__name__)

SOURCE_TIME_HEADER = "centinela-source-time"
"""Header an adapter sets on a merge: the newest device timestamp in it, epoch milliseconds."""


def event_time(event: ThingEvent, now: float) -> float:
    """The event time of a change: the source time header, else the event's timestamp, else `now`."""
    source = event.headers.get(SOURCE_TIME_HEADER)
    if source is not None:
        with contextlib.suppress(ValueError):
            return float(source) / 1000.0
    return event.timestamp if event.timestamp is not None else now


def source_times(event: ThingEvent) -> dict[str, float]:
    """Per-property device times from Ditto's `put-metadata` header (`sourceTime`, epoch ms)."""
    raw = event.headers.get("put-metadata")
    if not raw:
        return {}
    try:
        entries = json.loads(raw)
    except ValueError:
        return {}
    base = event.path.rstrip("/")
    times: dict[str, float] = {}
    for entry in entries if isinstance(entries, list) else ():
        if not isinstance(entry, dict) or not isinstance(entry.get("value"), dict):
            continue
        ms = entry["value"].get("sourceTime")
        key = entry.get("key")
        if isinstance(ms, int | float) and isinstance(key, str):
            times[base + "/" + key.lstrip("/")] = float(ms) / 1000.0
    return times


def extra_fields_for(program: Program) -> str | None:
    """The Ditto `extraFields` that let the runtime bind a thing from any of its events.

    That is what binding reads: the thing's id and definition (class matching) and every input
    of every class (what `where` conditions and rules read). `None` when an input cannot be
    written as a field selector (a key holding `,`, `(`, `)`, `*` or blanks).
    """
    fields = ["thingId", "definition"]
    for pointer in sorted({p for cls in program.classes.values() for p in cls.inputs}):
        field = pointer.lstrip("/")
        if not field or any(ch in field for ch in ",()* \t"):
            return None
        fields.append(field)
    return ",".join(fields)


def _related(path: str, pointers: Sequence[str]) -> bool:
    """Whether a change at `path` changes the value at any of `pointers` (above, at or below it)."""
    if path == "/":
        return True
    below = path.rstrip("/") + "/"
    return any(p == path or p.startswith(below) or path.startswith(p + "/") for p in pointers)


class Runtime:
    """Runs one `Engine` against a `TwinStore`; effects go to `sinks`, state to `state`.

    The runtime subscribes with the `extraFields` its classes need (`extra_fields_for`), so a
    thing it does not know yet, or one whose new definition makes another class match it, is
    bound from the event itself; without extra fields (a store that does not support them) it
    retrieves the thing instead. `retrieves` counts those retrievals.
    """

    def __init__(
        self,
        program: Program,
        twin: TwinStore,
        clock: Clock,
        sinks: Sequence[Sink],
        *,
        state: StateStore | None = None,
        checkpoint_seconds: float = 5.0,
        on_output: Callable[[StepOutput], None] | None = None,
        batch_size: int = 64,
        freeze_gc: bool = False,
    ) -> None:
        self.engine = Engine(program)
        self.twin = twin
        self.clock = clock
        self.sinks = list(sinks)
        self.state = state
        self.checkpoint_seconds = checkpoint_seconds
        self.on_output = on_output
        self.batch_size = batch_size
        """The most events one wake-up takes from the subscription. Their alarms are emitted
        together after the last one, so this bounds what batching adds to an alarm's latency
        (64 events: a few milliseconds)."""
        self.freeze_gc = freeze_gc
        """Keep the live state out of the cyclic collector's full scans while running
        (`centinela.gcfreeze.GcFreezer`, process-wide; for a process that runs this runtime
        for its lifetime). With 5,000 bound things a full collection over it stops the loop for
        hundreds of milliseconds (measured, `bench/engine.py`)."""
        self.events = 0
        self.ignored_own = 0
        self.retrieves = 0
        self.extra_fields = extra_fields_for(program)
        """The `extraFields` the runtime subscribes with (`None`: none, it retrieves instead)."""
        self._extra_program: Program | None = None  # the program the subscription's fields cover
        self._lock = asyncio.Lock()
        self._rearm = asyncio.Event()
        self._armed: float | None = None  # when the timer task sleeps until (None: no timer due)
        self.ready = asyncio.Event()

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Restore the last checkpoint, then bind every thing the loaded classes apply to."""
        if self.state is not None:
            await load_snapshot(self.engine, self.state)
        async for thing in self.twin.search():
            out = StepOutput()
            self._bind_into(thing, out)
            await self._emit(out)

    def _bind_into(self, thing: dict[str, Any], out: StepOutput) -> None:
        now = self.clock.now()
        thing_id = str(thing["thingId"])
        if thing_id in self.engine.contexts and self.engine.contexts[thing_id]:
            # Restored from a checkpoint: catch up on values that changed while we were away.
            for ctx in list(self.engine.contexts[thing_id]):
                for pointer in sorted(ctx.twin_class.inputs):
                    value = _at(thing, pointer)
                    if value is not MISSING and ctx.values.get(pointer, MISSING) != value:
                        self.engine.ingest(thing_id, pointer, value, now, out)
        else:
            self.engine.bind(thing, now, out)

    async def run(self) -> None:
        """Process events and timers until cancelled.

        Every wake-up takes all the events queued by then (up to `batch_size`): the engine steps
        through them one by one, and their effects go to the sinks together.
        """
        self._extra_program = self.engine.program if self.extra_fields is not None else None
        subscription = self.twin.subscribe(extra_fields=self.extra_fields)
        async with subscription:
            await self.start()
            with GcFreezer() if self.freeze_gc else contextlib.nullcontext() as freezer:
                self.ready.set()
                take = getattr(subscription, "get_nowait", None)
                async with asyncio.TaskGroup() as tasks:
                    tasks.create_task(self._timers())
                    if self.state is not None:
                        tasks.create_task(self._checkpoints())
                    async for event in subscription:
                        batch = [event]
                        if take is not None:
                            while len(batch) < self.batch_size:
                                more = take()
                                if more is None:
                                    break
                                batch.append(more)
                        await self.handle_many(batch)
                        if freezer is not None:
                            freezer.refreeze()

    async def handle(self, event: ThingEvent) -> None:
        """Apply one twin event (the engine's own writes are recognised and ignored)."""
        await self.handle_many((event,))

    async def handle_many(self, events: Sequence[ThingEvent]) -> None:
        """Apply twin events in order, each one engine step; their effects are emitted together."""
        out = StepOutput()
        engine = self.engine
        contexts = engine.contexts
        clock = self.clock
        for event in events:
            headers = event.headers
            if headers.get(ORIGIN_HEADER) == "engine":
                self.ignored_own += 1
                continue
            self.events += 1
            thing_id = event.thing_id
            if event.action == "deleted" and event.path == "/":
                contexts.pop(thing_id, None)
                engine.touched.add(thing_id)
                continue
            if thing_id not in contexts:
                thing = self._thing_of(event)
                if thing is None:
                    thing = await self._retrieve(thing_id)
                if thing is not None:
                    self._bind_into(thing, out)
                continue
            when = event_time(event, clock.now())
            async with self._lock:
                engine.ingest_change(
                    thing_id,
                    event.path,
                    event.value,
                    when,
                    out,
                    merge=event.action == "merged",
                    times=source_times(event) if "put-metadata" in headers else None,
                )
            if len(contexts.get(thing_id, ())) < len(engine.program.classes) and self._may_match_now(
                thing_id, event.path
            ):
                # The change may make another class match: bind what matches now (the classes
                # already bound keep their state and saw the change above).
                thing = self._thing_of(event)
                if thing is None:
                    thing = await self._retrieve(thing_id)
                if thing is not None and thing_id in contexts:
                    engine.bind(thing, clock.now(), out)
        await self._emit(out)

    def _thing_of(self, event: ThingEvent) -> dict[str, Any] | None:
        """The thing as binding needs it, from the event alone when it carries enough."""
        if event.path == "/" and event.action in ("created", "modified") and isinstance(event.value, dict):
            return dict(event.value) | {"thingId": event.thing_id}
        if event.extra is not None and self._extra_program is self.engine.program:
            return dict(event.extra) | {"thingId": event.thing_id}
        return None

    async def _retrieve(self, thing_id: str) -> dict[str, Any] | None:
        self.retrieves += 1
        try:
            thing = await self.twin.retrieve(thing_id)
        except TwinError as exc:
            log.warning("Thing %s changed but could not be retrieved: %s", thing_id, exc)
            return None
        return thing if isinstance(thing, dict) else None

    def _may_match_now(self, thing_id: str, path: str) -> bool:
        """Whether a change at `path` may make a class match that did not match the thing before.

        A class is a candidate when it is not bound to the thing (a class whose `where` is false
        is bound, dormant, and the engine brings it in itself) and its id glob, which cannot
        change, matches; the change counts when it touches the thing's definition.
        """
        if not _related(path, ("/definition",)):
            return False
        bound = {ctx.twin_class.name for ctx in self.engine.contexts.get(thing_id, ())}
        return any(
            cls.definition
            and cls.name not in bound
            and not (cls.id_glob and not fnmatch.fnmatchcase(thing_id, cls.id_glob))
            for cls in self.engine.program.classes.values()
        )

    async def act(self, thing_id: str, rule: str, action: Action) -> list[AlarmEvent]:
        """An operator action (ack, shelve, ...) on an alarm; returns the transitions it caused."""
        out = StepOutput()
        async with self._lock:
            self.engine.act(thing_id, rule, action, self.clock.now(), out)
        await self._emit(out)
        return list(out.alarms)

    def stats(self) -> dict[str, int]:
        """Counters for health reports: events seen and skipped, readings out of order, late, repeated."""
        engine = self.engine
        contexts = [c for cs in engine.contexts.values() for c in cs]
        return {
            "events": self.events,
            "ownEventsIgnored": self.ignored_own,
            "retrieves": self.retrieves,
            "things": len(engine.contexts),
            "outOfOrder": engine.out_of_order,
            "late": engine.late,
            "duplicates": sum(c.duplicates for c in contexts),
            "failingRules": sum(len(c.health) for c in contexts),
        }

    async def checkpoint(self) -> None:
        for sink in self.sinks:
            await sink.flush()
        if self.state is not None:
            await save_snapshot(self.engine, self.state)

    # ------------------------------------------------------------------ internals

    async def _emit(self, out: StepOutput) -> None:
        when = self.engine.next_wake()
        if when is not None and (self._armed is None or when < self._armed):
            self._rearm.set()  # a timer is due before the one the timer task sleeps until
        if not out:
            return
        for sink in self.sinks:
            await sink.emit(out)
        if self.on_output is not None:
            self.on_output(out)
        for health in out.health:
            log.warning("Rule %s on %s: %s", health.rule, health.thing_id, health.error or "recovered")

    async def _timers(self) -> None:
        while True:
            self._rearm.clear()
            when = self._armed = self.engine.next_wake()
            waiter = asyncio.ensure_future(self._rearm.wait())
            sleeper = asyncio.ensure_future(self.clock.sleep_until(when)) if when is not None else None
            pending = {waiter} if sleeper is None else {waiter, sleeper}
            done, rest = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in rest:
                task.cancel()
            if sleeper is not None and sleeper in done:
                out = StepOutput()
                async with self._lock:
                    self.engine.advance(self.clock.now(), out)
                await self._emit(out)

    async def _checkpoints(self) -> None:
        while True:
            await asyncio.sleep(self.checkpoint_seconds)
            await self.checkpoint()


def _at(thing: Any, pointer: str) -> Any:
    for part in pointer_parts(pointer):
        if not isinstance(thing, dict) or part not in thing:
            return MISSING
        thing = thing[part]
    return thing
