"""The evaluation core: binds twin classes to things, routes readings to fused triggers, runs alarms.

Synchronous and pure apart from its own state: every call takes the event time, results go into a
`StepOutput`. Timers are kept as a heap of wake-up times per (thing, class) and fired by `advance()`;
a reading also fires its thing's due timers first, so the outcome never depends on when a timer was
delivered (streaming, backtest and restart give the same transitions).
"""

from __future__ import annotations

import fnmatch
import heapq
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from centinela.dsl.program import (
    ALARM_FEATURE,
    ALL,
    MISSING,
    TIME,
    EvalError,
    MissingPolicy,
    Node,
    NodeKind,
    Program,
    TwinClass,
)
from centinela.errors import CentinelaError
from centinela.rules.alarms import (
    Action,
    AlarmConfig,
    AlarmStatus,
    Leave,
    MissingMode,
    Tick,
    Transition,
    evaluation,
    next_deadline,
    replace,
    settled,
    step,
    with_conditions,
)
from centinela.rules.context import ThingContext, thing_values
from centinela.rules.explain import alarm_feature_value, transition_event
from centinela.rules.output import HealthEvent, StepOutput, pointer_parts

__all__ = ["ALARM_FEATURE", "Engine", "EngineError"]

Trigger = Callable[[Any], list[tuple[int, Any]]]
_UNSEEN: Any = object()
_LET, _COMPUTE, _ALARM = 0, 1, 2  # what `_run` does with a node's value (SERIES nodes count as LET)
_NORMAL = AlarmStatus()


class EngineError(CentinelaError):
    """An engine call that names an unknown thing, class or rule."""


class _Hooks:
    """The engine's general code, as called back by the compiler's fused ingest functions."""

    __slots__ = ("alarm", "catch_up", "conditions", "finish", "push", "replace", "schedule", "touched")

    def __init__(self, engine: Engine) -> None:
        self.finish = engine._finish
        self.alarm = engine._alarm_at
        self.schedule = engine._schedule
        self.push = engine._push
        self.catch_up = engine._catch_up
        self.replace = replace
        self.conditions = with_conditions
        self.touched = engine.touched  # the same set for the engine's life (cleared, never replaced)


def _general(hooks: Any, ctx: ThingContext, value: Any, time: float, out: StepOutput) -> bool:
    return False  # no fused function for this input: the engine takes the reading the general way


def _config(node: Node) -> AlarmConfig:
    spec = node.alarm
    assert spec is not None
    return AlarmConfig(
        spec.on_delay, spec.off_delay, spec.latch, MissingMode(spec.on_missing.value), spec.chatter
    )


def _resolve(doc: Any, pointer: str) -> Any:
    for part in pointer_parts(pointer):
        if not isinstance(doc, dict) or part not in doc:
            return MISSING
        doc = doc[part]
    return doc


class Engine:
    """Runs a compiled `Program` over things; `contexts[thing_id]` holds one context per bound class.

    A class whose `where` is false for the thing is bound too, dormant (`ctx.dormant`), after the others.
    """

    def __init__(self, program: Program, *, record_readings: bool = True, fused: bool = True) -> None:
        """`fused=False` takes every reading the general way (the compiler's fused functions unused)."""
        self.record_readings = record_readings
        self.fused = fused
        self.contexts: dict[str, list[ThingContext]] = {}
        self._timers: list[tuple[float, int, str, str]] = []
        self._seq = 0
        self.out_of_order = 0
        self.late = 0
        self.touched: set[str] = set()  # things whose state changed since the last checkpoint
        self._hooks = _Hooks(self)
        self._load(program)

    def _load(self, program: Program) -> None:
        self.program = program
        self._configs = {
            (c.name, n.name): _config(n)
            for c in program.classes.values()
            for n in c.nodes
            if n.kind is NodeKind.ALARM
        }
        self._horizons = {c.name: {s.key: s.horizon for s in c.series} for c in program.classes.values()}
        self._path_series = {c.name: {s.path for s in c.series if s.path} for c in program.classes.values()}
        codes = {
            NodeKind.LET: _LET,
            NodeKind.COMPUTE: _COMPUTE,
            NodeKind.ALARM: _ALARM,
            NodeKind.SERIES: _LET,
        }
        # What `_run` needs of each node, looked up once: (kind, node, key, name, plain alarm).
        # A plain alarm has no suppress condition, so an unchanged bool input settles it at once.
        self._plans = {
            c.name: tuple(
                (
                    codes[n.kind],
                    n,
                    n.key,
                    n.name,
                    n.kind is NodeKind.ALARM and n.alarm is not None and n.alarm.suppress is None,
                )
                for n in c.nodes
            )
            for c in program.classes.values()
        }
        # Plain dicts filled on first use: fast lookups, and the compiler's lazy triggers stay lazy.
        self._triggers: dict[str, dict[str, Trigger | None]] = {c.name: {} for c in program.classes.values()}
        self._edges = {c.name: _edge_triggers(c) for c in program.classes.values()}
        # Edge key -> fused timer function (`TwinClass.ticks`), False where the general code runs.
        self._ticks: dict[str, dict[str, Any]] = {c.name: {} for c in program.classes.values()}
        self._alarm_nodes = {
            c.name: {n.name: n for n in c.nodes if n.kind is NodeKind.ALARM} for c in program.classes.values()
        }
        # Input path -> fused ingest function, shared by every context of a class (`ctx.kernels`);
        # dormant contexts (their `where` false) share another table.
        self._kernels: dict[str, dict[str, Any]] = {c.name: {} for c in program.classes.values()}
        self._dormant: dict[str, dict[str, Any]] = {c.name: {} for c in program.classes.values()}
        self._where_reads = {
            c.name: (c.where_reads or c.inputs) if c.where is not None else frozenset()
            for c in program.classes.values()
        }

    def swap(self, program: Program, now: float, out: StepOutput) -> None:
        """Run `program` from now on; every bound thing is re-evaluated once.

        A rule whose source version is unchanged keeps its state, the others start fresh, and
        classes that are gone unbind.
        """
        old = {(c.name, n.name): n.version for c in self.program.classes.values() for n in c.nodes}
        self._load(program)
        for thing_id, contexts in self.contexts.items():
            moved = []
            for ctx in contexts:
                cls = program.classes.get(ctx.twin_class.name)
                if cls is None:
                    continue
                versions = {n.name: n.version for n in cls.nodes}
                ctx.twin_class, ctx.horizons = cls, self._horizons[cls.name]
                ctx.kernels = (self._dormant if ctx.dormant else self._kernels)[cls.name]
                ctx.alarms = {
                    k: a for k, a in ctx.alarms.items() if old.get((cls.name, k)) == versions.get(k)
                }
                ctx.health = {k: e for k, e in ctx.health.items() if k in versions}
                ctx.store = {k: s for k, s in ctx.store.items() if k in ctx.horizons}
                for key, series in ctx.store.items():
                    series.horizon = ctx.horizons[key]
                ctx.now, ctx.wake = max(ctx.now, now), None
                self._deadlines(ctx)
                moved.append(ctx)
            self.contexts[thing_id] = moved
            self.touched.add(thing_id)
        self._timers.clear()
        for contexts in self.contexts.values():
            for ctx in contexts:
                ctx.scheduled = None
                where = ctx.twin_class.where
                if ctx.dormant:
                    if where is not None and _truthy(where, ctx):
                        self._enter(ctx, ctx.now, out)
                elif where is not None and not _truthy(where, ctx):
                    self._leave(ctx, ctx.now, out)
                else:
                    self._run(ctx, ALL, out)

    # ------------------------------------------------------------------ binding

    def matches(self, cls: TwinClass, thing: Mapping[str, Any]) -> bool:
        if cls.definition and not fnmatch.fnmatchcase(str(thing.get("definition") or ""), cls.definition):
            return False
        return not (cls.id_glob and not fnmatch.fnmatchcase(str(thing.get("thingId", "")), cls.id_glob))

    def bind(
        self, thing: Mapping[str, Any], now: float, out: StepOutput, *, force: bool = False
    ) -> list[ThingContext]:
        """Attach every matching class (every class when `force`) to a thing; evaluate everything once.

        Classes whose `where` is false are attached dormant (returned after the others, not evaluated).
        """
        thing_id = str(thing["thingId"])
        existing = self.contexts.get(thing_id, [])
        present = {c.twin_class.name for c in existing}
        bound: list[ThingContext] = []
        for cls in self.program.classes.values():
            if cls.name in present or (not force and not self.matches(cls, thing)):
                continue
            ctx = ThingContext(
                thing_id,
                cls,
                self._horizons[cls.name],
                values=thing_values(thing_id),
                now=now,
                kernels=self._kernels[cls.name],
            )
            for pointer in cls.inputs:
                value = _resolve(thing, pointer)
                if value is not MISSING:
                    ctx.values[pointer] = value
                    ctx.seen[pointer] = now
                    if pointer in self._path_series[cls.name]:
                        ctx.series(pointer).append(now, value)
            if cls.where is not None and not force and not _truthy(cls.where, ctx):
                # Not in the class now: kept dormant, so a change making `where` true brings it in.
                ctx.dormant, ctx.kernels, ctx.store = True, self._dormant[cls.name], {}
            bound.append(ctx)
        bound.sort(key=lambda c: c.dormant)  # the thing's classes first, dormant ones after them
        self.contexts[thing_id] = existing + bound
        if bound:
            self.touched.add(thing_id)
        if bound and self.record_readings:  # what a backtest needs to bind the thing the same way
            if thing.get("definition"):
                out.sample(now, thing_id, "/definition", str(thing["definition"]))
            for pointer in sorted({p for ctx in bound for p in ctx.twin_class.inputs}):
                value = _resolve(thing, pointer)
                if value is not MISSING:
                    out.sample(now, thing_id, pointer, value)
        for ctx in bound:
            if not ctx.dormant:
                self._run(ctx, ALL, out)
        return bound

    def restore(self, thing_id: str, states: Iterable[dict[str, Any]]) -> None:
        """Rebuild a thing's contexts from snapshots (classes no longer loaded are dropped)."""
        contexts = []
        for data in states:
            cls = self.program.classes.get(data["class"])
            if cls is None:
                continue
            ctx = ThingContext(
                thing_id,
                cls,
                self._horizons[cls.name],
                values=thing_values(thing_id),
                kernels=self._kernels[cls.name],
            )
            ctx.restore(data)
            if ctx.dormant:
                ctx.kernels = self._dormant[cls.name]
            self._deadlines(ctx)
            ctx.wake = None  # re-armed below from the restored alarms and series
            contexts.append(ctx)
            self._schedule(ctx)
        self.contexts[thing_id] = contexts

    # ------------------------------------------------------------------ readings and time

    def ingest(self, thing_id: str, path: str, value: Any, time: float, out: StepOutput) -> None:
        """Apply one input value (a leaf pointer) of a bound thing at event time `time`."""
        contexts = self.contexts.get(thing_id)
        if not contexts:
            return
        if self.record_readings:
            out.sample(time, thing_id, path, value)
        hooks = self._hooks
        for ctx in contexts:
            fused = ctx.kernels.get(path)
            if fused is None:
                if path not in ctx.twin_class.inputs:
                    continue
                fused = self._kernel(ctx, path)
            # The common case in one generated function; anything else the general way.
            if not fused(hooks, ctx, value, time, out) and self._accept(ctx, path, value, time, out):
                self._run(ctx, path, out)

    def _kernel(self, ctx: ThingContext, path: str) -> Any:
        if ctx.dormant:
            fused = self._dormant_kernel(path)
        elif path in self._where_reads[ctx.twin_class.name]:
            fused = self._where_kernel(path)
        else:
            fused = ctx.twin_class.fused.get(path, _general) if self.fused else _general
        ctx.kernels[path] = fused
        return fused

    def _dormant_kernel(self, path: str) -> Any:
        def dormant(hooks: Any, ctx: ThingContext, value: Any, time: float, out: StepOutput) -> bool:
            self._ingest_dormant(ctx, [(path, value, time)], out)
            return True

        return dormant

    def _where_kernel(self, path: str) -> Any:
        def where(hooks: Any, ctx: ThingContext, value: Any, time: float, out: StepOutput) -> bool:
            if self._accept(ctx, path, value, time, out):
                self._step_where(ctx, path, time, out)
            return True

        return where

    # ------------------------------------------------------------------ dynamic `where`

    def _ingest_dormant(
        self, ctx: ThingContext, items: Sequence[tuple[str, Any, float]], out: StepOutput
    ) -> None:
        """Track the values of a dormant context; bring the thing into the class once `where` holds."""
        reads = self._where_reads[ctx.twin_class.name]
        check, last = False, ctx.now
        for path, value, time in items:
            seen = ctx.seen.get(path)
            if seen is not None and time < seen:
                continue  # an older value never becomes the current one
            ctx.seen[path] = time
            ctx.now = max(ctx.now, time)
            last = max(last, time)
            if value is None:
                ctx.values.pop(path, None)
            else:
                ctx.values[path] = value
            check = check or path in reads
        self.touched.add(ctx.thing_id)
        where = ctx.twin_class.where
        if check and where is not None and _truthy(where, ctx):
            self._enter(ctx, last, out)

    def _step_where(self, ctx: ThingContext, key: str, time: float, out: StepOutput) -> None:
        """A step of an active context whose change `where` reads: leave the class, or run the rules."""
        where = ctx.twin_class.where
        if where is not None and not _truthy(where, ctx):
            self._leave(ctx, time, out)
        else:
            self._run(ctx, key, out)

    def _enter(self, ctx: ThingContext, now: float, out: StepOutput) -> None:
        """`where` became true: the rules run on the current values, as when a thing is bound."""
        cls = ctx.twin_class
        ctx.dormant, ctx.kernels = False, self._kernels[cls.name]
        ctx.now = max(ctx.now, now)
        for pointer in sorted(cls.inputs & self._path_series[cls.name]):
            value = ctx.values.get(pointer, MISSING)
            if value is not MISSING:
                ctx.series(pointer).append(ctx.now, value)
        self._run(ctx, ALL, out)
        self.touched.add(ctx.thing_id)

    def _leave(self, ctx: ThingContext, now: float, out: StepOutput) -> None:
        """`where` became false: the thing leaves the class, its input values stay tracked (dormant).

        Its alarms return to normal (cause `left-class`), their features are removed from the twin,
        its timers and windows are dropped.
        """
        cls = ctx.twin_class
        ctx.now = max(ctx.now, now)
        for name, node in self._alarm_nodes[cls.name].items():
            status = ctx.alarms.get(name)
            if status is not None:
                _, transitions = step(status, self._configs[(cls.name, name)], Leave(), ctx.now)
                out.alarms.extend(transition_event(ctx, node, tr, MISSING) for tr in transitions)
        for key in [k for k in ctx.written if k.startswith(ALARM_FEATURE)]:
            del ctx.written[key]
            out.patch(ctx.thing_id, key, None)  # a merge patch's null: the feature property is removed
        for key in [k for k in ctx.values if k.startswith(("alarm:", "let:")) or k in ctx.written]:
            del ctx.values[key]
        ctx.alarms.clear()
        ctx.deadlines.clear()
        ctx.health.clear()
        ctx.store = {}
        ctx.wake = ctx.scheduled = None  # its entries in the timer heap are dropped as stale
        ctx.dormant, ctx.kernels = True, self._dormant[cls.name]
        self.touched.add(ctx.thing_id)

    def ingest_many(self, thing_id: str, items: Sequence[tuple[str, Any, float]], out: StepOutput) -> None:
        """Apply the input values of one change (one merge) as ONE step.

        All values are taken first and the rules run once, so no rule sees half of the change.
        """
        contexts = self.contexts.get(thing_id)
        if not contexts:
            return
        if self.record_readings:
            for path, value, time in items:
                out.sample(time, thing_id, path, value)
        for ctx in contexts:
            inputs = ctx.twin_class.inputs
            mine = [(p, v, t) for p, v, t in items if p in inputs]
            if not mine:
                continue
            if ctx.dormant:
                self._ingest_dormant(ctx, mine, out)
                continue
            first = min(t for _, _, t in mine)
            if ctx.wake is not None and ctx.wake < first:
                self._catch_up(ctx, first, out)  # timers due before it see none of this change
            changed = [p for p, v, t in mine if self._accept(ctx, p, v, t, out)]
            if not changed:
                continue
            key = changed[0] if len(changed) == 1 else ALL
            if self._where_reads[ctx.twin_class.name].intersection(changed):
                self._step_where(ctx, key, max(t for _, _, t in mine), out)
            else:
                self._run(ctx, key, out)

    def _accept(self, ctx: ThingContext, path: str, value: Any, time: float, out: StepOutput) -> bool:
        """Take a reading into the context; False for a duplicate or an out-of-order reading."""
        seen_at = ctx.seen
        seen = seen_at.get(path)
        if seen is not None and time <= seen:
            if time == seen and ctx.values.get(path, MISSING) == value:
                ctx.duplicates += 1
                return False
            if time < seen:  # behind the newest reading of its path: windows only, flagged
                self.out_of_order += 1
                if path in self._path_series[ctx.twin_class.name] and not ctx.series(path).add(time, value):
                    self.late += 1
                return False
        wake = ctx.wake
        if wake is not None and wake < time:
            self._catch_up(ctx, time, out)
        seen_at[path] = time
        if time > ctx.now:
            ctx.now = time
        if value is None:  # deleted (a merge's null, a deleted feature): the input is missing now
            ctx.values.pop(path, None)
            return True
        ctx.values[path] = value
        series = ctx.store.get(path)
        if series is not None:
            series.add(time, value)
        elif path in self._path_series[ctx.twin_class.name]:
            ctx.series(path).append(time, value)
        return True

    def ingest_change(
        self,
        thing_id: str,
        path: str,
        value: Any,
        time: float,
        out: StepOutput,
        *,
        merge: bool = True,
        times: Mapping[str, float] | None = None,
    ) -> None:
        """Apply a twin change at any depth: every input pointer under `path` takes its new value.

        `times` gives per-pointer source times; pointers without one use `time`.
        """
        contexts = self.contexts.get(thing_id)
        if not contexts:
            return
        pointers = {p for ctx in contexts for p in ctx.twin_class.inputs}
        times = times or {}
        if path in pointers:
            self.ingest(thing_id, path, value, times.get(path, time), out)
            return
        prefix = path.rstrip("/") + "/"
        items = []
        for pointer in sorted(pointers):
            if pointer.startswith(prefix):
                sub = _resolve(value, pointer[len(prefix) - 1 :])
                if sub is MISSING and merge:
                    continue
                items.append((pointer, None if sub is MISSING else sub, times.get(pointer, time)))
        self.ingest_many(thing_id, items, out)

    def _timer_context(self, thing_id: str, name: str) -> ThingContext | None:
        for ctx in self.contexts.get(thing_id, ()):
            if ctx.twin_class.name == name:
                return ctx
        return None

    def next_wake(self) -> float | None:
        """The earliest time a timer is due (None without timers).

        Each context keeps at most one live heap entry (`scheduled`); an entry whose context now
        wakes later is moved rather than fired, so the heap stays as small as the set of contexts.
        """
        timers = self._timers
        while timers:
            when, _, thing_id, name = timers[0]
            ctx = self._timer_context(thing_id, name)
            if ctx is None or ctx.scheduled != when:
                heapq.heappop(timers)
                continue
            if ctx.wake is None or ctx.wake > when:
                heapq.heappop(timers)
                ctx.scheduled = None
                if ctx.wake is not None:
                    self._push(ctx, ctx.wake)
                continue
            return when
        return None

    def advance(self, now: float, out: StepOutput, *, before: bool = False) -> None:
        """Fire every timer due by `now`, in time order, each at its own time.

        With `before`, only timers due strictly before `now` (a replay about to apply data at `now`).
        """
        while (when := self.next_wake()) is not None and (when < now if before else when <= now):
            _, _, thing_id, name = heapq.heappop(self._timers)
            ctx = self._timer_context(thing_id, name)
            if ctx is not None:
                ctx.scheduled = None
                self._fire(ctx, when, out)

    @property
    def timers_heap(self) -> list[tuple[float, int, str, str]]:
        """The timer heap (read only): `timers_heap[0][0]` is a lower bound of `next_wake()`."""
        return self._timers

    def _push(self, ctx: ThingContext, when: float) -> None:
        self._seq += 1
        ctx.scheduled = when
        heapq.heappush(self._timers, (when, self._seq, ctx.thing_id, ctx.twin_class.name))

    def act(self, thing_id: str, rule: str, action: Action, now: float, out: StepOutput) -> None:
        """An operator action on the alarm `rule` of a thing (ack, shelve, reset, ...)."""
        for ctx in self.contexts.get(thing_id, ()):
            if ctx.dormant:
                continue  # not in the class now: its alarms are normal and take no actions
            for node in ctx.twin_class.nodes:
                if node.kind is NodeKind.ALARM and node.name == rule:
                    self._catch_up(ctx, now, out)
                    ctx.now = max(ctx.now, now)
                    status, transitions = step(
                        ctx.alarms.get(rule, _NORMAL), self._configs[(ctx.twin_class.name, rule)], action, now
                    )
                    self._apply(ctx, node, status, transitions, MISSING, out)
                    self._schedule(ctx)
                    return
        msg = f"Thing {thing_id!r} has no alarm rule named {rule!r}."
        raise EngineError(msg)

    # ------------------------------------------------------------------ evaluation

    def _catch_up(self, ctx: ThingContext, now: float, out: StepOutput) -> None:
        """Fire a thing's timers due before `now`, each at its own time, before applying data at `now`.

        A timer due exactly at `now` is left for after the data: the state at `now` includes the
        reading, and the reading's own rules usually make the timer moot (a window edge of its path).
        """
        for _ in range(10_000):
            when = ctx.wake
            if when is None or when >= now:
                return
            self._fire(ctx, when, out)

    def _fire(self, ctx: ThingContext, now: float, out: StepOutput) -> None:
        if now > ctx.now:
            ctx.now = now
        ctx.wake = None
        cls = ctx.twin_class
        if cls.timed:
            edges = self._edges[cls.name]
            keys = {
                edges.get(k, "")
                for k, series in ctx.store.items()
                if series.wake is not None and series.wake <= now
            }
            if "" in keys:  # a due series without an edge trigger of its own
                self._run(ctx, TIME if TIME in cls.triggers else ALL, out)
            else:
                ticks = self._ticks[cls.name]
                for key in sorted(keys):
                    tick: Any = ticks.get(key)
                    if tick is None:
                        tick = ticks[key] = cls.ticks.get(key, False) if self.fused else False
                    if tick:  # the trigger of the path and its effects in one generated function
                        tick(self._hooks, ctx, out)
                        self._schedule(ctx)  # as `_run` does after each key (the heap's order of ties)
                    else:
                        self._run(ctx, key, out)
        if ctx.deadlines:
            due = [name for name, when in ctx.deadlines.items() if when <= ctx.now]
            for name in due:  # delays and shelves of alarms the time trigger did not evaluate
                node = self._alarm_nodes[cls.name][name]
                config = self._configs[(cls.name, name)]
                new, transitions = step(ctx.alarms[name], config, Tick(), ctx.now)
                self._apply(ctx, node, new, transitions, MISSING, out)
        self._schedule(ctx)

    def _run(self, ctx: ThingContext, key: str, out: StepOutput) -> None:
        cls = ctx.twin_class
        cache = self._triggers[cls.name]
        trigger = cache.get(key, _UNSEEN)
        if trigger is _UNSEEN:
            trigger = cache[key] = cls.triggers.get(key)
        if trigger is None:
            return
        self._process(ctx, trigger(ctx), out)

    def _finish(
        self, ctx: ThingContext, results: list[tuple[int, Any]], errs: dict[int, Any] | None, out: StepOutput
    ) -> None:
        if errs:
            results = [(i, errs.get(i, value)) for i, value in results]
        self._process(ctx, results, out)

    def _alarm_at(self, ctx: ThingContext, index: int, value: Any, out: StepOutput) -> None:
        self._alarm(ctx, ctx.twin_class.nodes[index], value, out)

    def _process(self, ctx: ThingContext, results: list[tuple[int, Any]], out: StepOutput) -> None:
        """What a step does with a trigger's results: health, computed writes, alarms; then timers."""
        plan = self._plans[ctx.twin_class.name]
        health = ctx.health
        written = ctx.written
        alarms = ctx.alarms
        changes = None
        for index, value in results:
            kind, node, node_key, name, plain = plan[index]
            if kind == _LET:
                continue
            if value.__class__ is EvalError:
                self._health(ctx, node, value.error, out)
                continue
            if health and name in health:
                self._health(ctx, node, None, out)
            if kind == _COMPUTE:
                if value is not MISSING and written.get(node_key, MISSING) != value:
                    written[node_key] = value
                    if changes is None:
                        changes = out.changes.get(ctx.thing_id)
                        if changes is None:
                            changes = out.changes[ctx.thing_id] = {}
                    changes[node_key] = value
                    out.rows.append((ctx.now, ctx.thing_id, node_key, value))
            elif kind == _ALARM:
                if plain and value.__class__ is bool:
                    # `_alarm`'s early returns without the call: the same input while idle, or while
                    # active the same input and the same clear condition.
                    status = alarms.get(name, _NORMAL)
                    if value is status.raised and not status.suppressed:
                        if not status.active:
                            continue
                        clear = node.alarm.clear  # type: ignore[union-attr]  # plain: an alarm node
                        cleared: Any = None
                        if clear is not None:
                            try:
                                cleared = _tri(clear(ctx))
                            except Exception:  # noqa: BLE001 - `_alarm` evaluates it again, reports it
                                cleared = _UNSEEN
                        if cleared == status.cleared or (cleared is None and status.cleared is not value):
                            continue
                self._alarm(ctx, node, value, out)
        self._schedule(ctx)

    def _alarm(self, ctx: ThingContext, node: Node, value: Any, out: StepOutput) -> None:
        spec = node.alarm
        assert spec is not None
        status = ctx.alarms.get(node.name, _NORMAL)
        raised = None if value is MISSING else bool(value)
        if raised is None and spec.on_missing is not MissingPolicy.HOLD:
            raised = spec.on_missing is MissingPolicy.RAISE  # what the state machine would make of it
        # Nothing can change when the inputs of the state machine are what they were: every deadline
        # due by now has fired already (see `_catch_up`). While inactive the clear condition is moot.
        if raised is status.raised and spec.suppress is None and not status.suppressed and not status.active:
            return
        try:
            cleared = None if spec.clear is None else _tri(spec.clear(ctx))
            suppressed = spec.suppress is not None and bool(_tri(spec.suppress(ctx)))
        except Exception as exc:  # noqa: BLE001 - a failing rule is health, not a crash
            self._health(ctx, node, f"{type(exc).__name__}: {exc}", out)
            return
        if settled(status, raised, cleared, suppressed):
            return
        if value is MISSING:  # the policy decides, not a clear condition computed without data
            cleared = None if spec.on_missing is MissingPolicy.HOLD else not raised
        cfg = self._configs[(ctx.twin_class.name, node.name)]
        new, transitions = step(status, cfg, evaluation(raised, cleared, suppressed), ctx.now)
        self._apply(ctx, node, new, transitions, value, out)

    def _apply(
        self,
        ctx: ThingContext,
        node: Node,
        status: AlarmStatus,
        transitions: list[Transition],
        value: Any,
        out: StepOutput,
    ) -> None:
        ctx.alarms[node.name] = status
        due = next_deadline(status, self._configs[(ctx.twin_class.name, node.name)])
        if due is None:
            ctx.deadlines.pop(node.name, None)
        else:
            ctx.deadlines[node.name] = due
        last = None
        for tr in transitions:
            last = transition_event(ctx, node, tr, value)
            out.alarms.append(last)
        key = ALARM_FEATURE + node.name
        if last is None and key in ctx.written and ctx.written[key]["state"] == status.state._value_:
            return
        shape = alarm_feature_value(status, node, last)
        if last is None and key in ctx.written:
            shape["lastTransition"], shape["message"] = (
                ctx.written[key]["lastTransition"],
                ctx.written[key]["message"],
            )
        if ctx.written.get(key) != shape:
            ctx.written[key] = shape
            out.patch(ctx.thing_id, key, shape)

    def _health(self, ctx: ThingContext, node: Node, error: str | None, out: StepOutput) -> None:
        if error is None:
            ctx.health.pop(node.name, None)
        elif ctx.health.get(node.name) == error:
            return
        else:
            ctx.health[node.name] = error
        out.health.append(HealthEvent(ctx.now, ctx.thing_id, node.name, error, str(node.span)))

    def _deadlines(self, ctx: ThingContext) -> None:
        ctx.deadlines.clear()
        for name, status in ctx.alarms.items():
            due = next_deadline(status, self._configs[(ctx.twin_class.name, name)])
            if due is not None:
                ctx.deadlines[name] = due

    def _schedule(self, ctx: ThingContext) -> None:
        self.touched.add(ctx.thing_id)
        deadlines = ctx.deadlines
        wake: float | None = min(deadlines.values()) if deadlines else None
        if ctx.twin_class.timed:
            now = ctx.now
            for series in ctx.store.values():
                when = series.wake
                if when is None:
                    continue
                if when <= now:
                    series.wake = None
                elif wake is None or when < wake:
                    wake = when
        ctx.wake = wake
        if wake is not None:
            scheduled = ctx.scheduled
            if scheduled is None or wake < scheduled:
                self._push(ctx, wake)


def _tri(value: Any) -> bool | None:
    return None if value is MISSING else bool(value)


def _truthy(fn: Any, ctx: ThingContext) -> bool:
    try:
        return _tri(fn(ctx)) is True
    except Exception:  # noqa: BLE001 - a failing `where` does not bind the thing
        return False


def _edge_triggers(cls: TwinClass) -> dict[str, str]:
    """Series whose time-driven changes can be re-evaluated by the trigger of their own path.

    A window edge or staleness of a path's series changes only nodes reading that path, which its own
    trigger evaluates; allowed when that trigger feeds no derived series (which would gain samples at
    timer times that the class-wide time trigger does not give them).
    """
    edges: dict[str, str] = {}
    for spec in cls.series:
        if spec.path is None or spec.path not in cls.triggers:
            continue
        changed, derived = {spec.path}, False
        for node in cls.nodes:
            if node.reads & changed:
                changed.add(node.key)
                derived = derived or node.kind is NodeKind.SERIES
        if not derived:
            edges[spec.key] = spec.path
    return edges
