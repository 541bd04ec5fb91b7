"""The evaluation core: binds twin classes to things, routes readings to fused triggers, runs alarms.

Synchronous and pure apart from its own state: every call takes the event time, results go into a
`StepOutput`. Timers are kept as a heap of wake-up times per (thing, class) and fired by `advance()`;
a reading also fires its thing's due timers first, so the outcome never depends on when a timer was
delivered (streaming, backtest and restart give the same transitions).
"""

from __future__ import annotations

import fnmatch
import hashlib
import heapq
from collections.abc import Iterable, Mapping
from typing import Any

from centinela.dsl.program import ALL, MISSING, EvalError, MissingPolicy, Node, NodeKind, Program, TwinClass
from centinela.errors import CentinelaError
from centinela.rules.alarms import (
    Action,
    AlarmConfig,
    AlarmStatus,
    Evaluation,
    MissingMode,
    Tick,
    Transition,
    next_deadline,
    step,
)
from centinela.rules.context import ThingContext, thing_values
from centinela.rules.output import AlarmEvent, HealthEvent, StepOutput, pointer_parts

__all__ = ["ALARM_FEATURE", "Engine", "EngineError", "alarm_feature_value"]

ALARM_FEATURE = "/features/alarms/properties/"
_NORMAL = AlarmStatus()


class EngineError(CentinelaError):
    """An engine call that names an unknown thing, class or rule."""


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


def alarm_feature_value(status: AlarmStatus, node: Node, last: AlarmEvent | None) -> dict[str, Any]:
    """The alarm state as written to `features/alarms/properties/<Rule>` (documented in docs/engine.md)."""
    assert node.alarm is not None
    return {
        "state": status.state.value,
        "active": status.active,
        "severity": node.alarm.severity.value,
        "since": status.since,
        "latched": status.latched,
        "chattering": status.chattering,
        "shelvedUntil": status.shelved_until,
        "outOfService": status.out_of_service,
        "suppressed": status.suppressed,
        "lastTransition": None if last is None else last.id,
        "message": None if last is None else last.message,
    }


class Engine:
    """Runs a compiled `Program` over things; `contexts[thing_id]` holds one context per bound class."""

    def __init__(self, program: Program, *, record_readings: bool = True) -> None:
        self.record_readings = record_readings
        self.contexts: dict[str, list[ThingContext]] = {}
        self._timers: list[tuple[float, int, str, str]] = []
        self._seq = 0
        self._load(program)
        self.out_of_order = 0
        self.late = 0
        self.touched: set[str] = set()  # things whose state changed since the last checkpoint

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
                ctx.alarms = {
                    k: a for k, a in ctx.alarms.items() if old.get((cls.name, k)) == versions.get(k)
                }
                ctx.health = {k: e for k, e in ctx.health.items() if k in versions}
                ctx.store = {k: s for k, s in ctx.store.items() if k in ctx.horizons}
                for key, series in ctx.store.items():
                    series.horizon = ctx.horizons[key]
                ctx.now, ctx.wake = max(ctx.now, now), None
                moved.append(ctx)
            self.contexts[thing_id] = moved
            self.touched.add(thing_id)
        self._timers.clear()
        for contexts in self.contexts.values():
            for ctx in contexts:
                self._run(ctx, ALL, out)

    # ------------------------------------------------------------------ binding

    def matches(self, cls: TwinClass, thing: Mapping[str, Any]) -> bool:
        if cls.definition and not fnmatch.fnmatchcase(str(thing.get("definition") or ""), cls.definition):
            return False
        return not (cls.id_glob and not fnmatch.fnmatchcase(str(thing.get("thingId", "")), cls.id_glob))

    def bind(
        self, thing: Mapping[str, Any], now: float, out: StepOutput, *, force: bool = False
    ) -> list[ThingContext]:
        """Attach every matching class (every class when `force`) to a thing; evaluate everything once."""
        thing_id = str(thing["thingId"])
        existing = self.contexts.get(thing_id, [])
        present = {c.twin_class.name for c in existing}
        bound: list[ThingContext] = []
        for cls in self.program.classes.values():
            if cls.name in present or (not force and not self.matches(cls, thing)):
                continue
            ctx = ThingContext(
                thing_id, cls, self._horizons[cls.name], values=thing_values(thing_id), now=now
            )
            for pointer in cls.inputs:
                value = _resolve(thing, pointer)
                if value is not MISSING:
                    ctx.values[pointer] = value
                    ctx.seen[pointer] = now
                    if pointer in self._path_series[cls.name]:
                        ctx.series(pointer).append(now, value)
            if cls.where is not None and not force and not _truthy(cls.where, ctx):
                continue
            bound.append(ctx)
        self.contexts[thing_id] = existing + bound
        if bound and self.record_readings:  # what a backtest needs to bind the thing the same way
            if thing.get("definition"):
                out.sample(now, thing_id, "/definition", str(thing["definition"]))
            for pointer in sorted({p for ctx in bound for p in ctx.twin_class.inputs}):
                value = _resolve(thing, pointer)
                if value is not MISSING:
                    out.sample(now, thing_id, pointer, value)
        for ctx in bound:
            self._run(ctx, ALL, out)
        return bound

    def restore(self, thing_id: str, states: Iterable[dict[str, Any]]) -> None:
        """Rebuild a thing's contexts from snapshots (classes no longer loaded are dropped)."""
        contexts = []
        for data in states:
            cls = self.program.classes.get(data["class"])
            if cls is None:
                continue
            ctx = ThingContext(thing_id, cls, self._horizons[cls.name], values=thing_values(thing_id))
            ctx.restore(data)
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
        for ctx in contexts:
            cls = ctx.twin_class
            if path not in cls.inputs:
                continue
            seen = ctx.seen.get(path)
            if seen is not None and time <= seen:
                if time == seen and ctx.values.get(path, MISSING) == value:
                    ctx.duplicates += 1
                    continue
                if time < seen:  # behind the newest reading of its path: windows only, flagged
                    self.out_of_order += 1
                    if path in self._path_series[cls.name] and not ctx.series(path).append(time, value):
                        self.late += 1
                    continue
            if ctx.wake is not None and ctx.wake <= time:
                self._catch_up(ctx, time, out)
            ctx.seen[path] = time
            ctx.values[path] = value
            if time > ctx.now:
                ctx.now = time
            if path in self._path_series[cls.name]:
                ctx.series(path).append(time, value)
            self._run(ctx, path, out)

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
        for pointer in sorted(pointers):
            if pointer.startswith(prefix):
                sub = _resolve(value, pointer[len(prefix) - 1 :])
                if sub is MISSING and merge:
                    continue
                self.ingest(thing_id, pointer, None if sub is MISSING else sub, times.get(pointer, time), out)

    def next_wake(self) -> float | None:
        while self._timers:
            when, _, thing_id, name = self._timers[0]
            if any(c.twin_class.name == name and c.wake == when for c in self.contexts.get(thing_id, ())):
                return when
            heapq.heappop(self._timers)
        return None

    def advance(self, now: float, out: StepOutput) -> None:
        """Fire every timer due at or before `now`, in time order, each at its own time."""
        while (when := self.next_wake()) is not None and when <= now:
            _, _, thing_id, name = heapq.heappop(self._timers)
            for ctx in self.contexts.get(thing_id, ()):
                if ctx.twin_class.name == name and ctx.wake == when:
                    self._fire(ctx, when, out)

    def act(self, thing_id: str, rule: str, action: Action, now: float, out: StepOutput) -> None:
        """An operator action on the alarm `rule` of a thing (ack, shelve, reset, ...)."""
        for ctx in self.contexts.get(thing_id, ()):
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
        """Fire a thing's timers due by `now`, each at its own time, before applying newer data."""
        for _ in range(10_000):
            when = ctx.wake
            if when is None or when > now:
                return
            self._fire(ctx, when, out)

    def _fire(self, ctx: ThingContext, now: float, out: StepOutput) -> None:
        ctx.now = max(ctx.now, now)
        ctx.wake = None
        cls = ctx.twin_class
        if cls.timed:
            self._run(ctx, ALL, out)
            return
        for node in cls.nodes:
            status = ctx.alarms.get(node.name)
            if node.kind is NodeKind.ALARM and status is not None:
                new, transitions = step(status, self._configs[(cls.name, node.name)], Tick(), ctx.now)
                self._apply(ctx, node, new, transitions, MISSING, out)
        self._schedule(ctx)

    def _run(self, ctx: ThingContext, key: str, out: StepOutput) -> None:
        cls = ctx.twin_class
        trigger = cls.triggers.get(key)
        if trigger is None:
            return
        nodes = cls.nodes
        for index, value in trigger(ctx):
            node = nodes[index]
            if isinstance(value, EvalError):
                self._health(ctx, node, value.error, out)
                continue
            if node.name in ctx.health:
                self._health(ctx, node, None, out)
            kind = node.kind
            if kind is NodeKind.COMPUTE:
                if value is not MISSING and ctx.written.get(node.key, MISSING) != value:
                    ctx.written[node.key] = value
                    out.patch(ctx.thing_id, node.key, value)
                    out.sample(ctx.now, ctx.thing_id, node.key, value)
            elif kind is NodeKind.ALARM:
                self._alarm(ctx, node, value, out)
            elif kind is NodeKind.SERIES and value is not MISSING:
                ctx.series(node.key).append(ctx.now, value)
        self._schedule(ctx)

    def _alarm(self, ctx: ThingContext, node: Node, value: Any, out: StepOutput) -> None:
        spec = node.alarm
        assert spec is not None
        status = ctx.alarms.get(node.name, _NORMAL)
        raised = None if value is MISSING else bool(value)
        if (
            raised is False
            and status.raised is False
            and status.state is _NORMAL.state
            and spec.clear is None
            and spec.suppress is None
            and status.pending_since is None
            and not status.chattering
            and status.shelved_until is None
        ):
            return  # the common case: quiet and staying quiet
        try:
            cleared = None if spec.clear is None else _tri(spec.clear(ctx))
            suppressed = spec.suppress is not None and bool(_tri(spec.suppress(ctx)))
        except Exception as exc:  # noqa: BLE001 - a failing rule is health, not a crash
            self._health(ctx, node, f"{type(exc).__name__}: {exc}", out)
            return
        if raised is None and spec.on_missing is MissingPolicy.HOLD and cleared is not None:
            cleared = None
        cfg = self._configs[(ctx.twin_class.name, node.name)]
        new, transitions = step(status, cfg, Evaluation(raised, cleared, suppressed), ctx.now)
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
        last = None
        for tr in transitions:
            last = self._event(ctx, node, tr, value)
            out.alarms.append(last)
        key = ALARM_FEATURE + node.name
        if last is None and key in ctx.written and ctx.written[key]["state"] == status.state.value:
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

    def _event(self, ctx: ThingContext, node: Node, tr: Transition, value: Any) -> AlarmEvent:
        spec = node.alarm
        assert spec is not None
        seed = f"{node.version}|{ctx.thing_id}|{node.name}|{tr.time!r}|{tr.cause.value}|{tr.state.value}"
        alarm_id = hashlib.sha256(seed.encode()).hexdigest()[:24]
        try:
            operands = tuple(
                {"text": o.text, "value": None if o.value is MISSING else o.value, "unit": o.unit}
                for o in spec.explain(ctx)
            )
        except Exception as exc:  # noqa: BLE001 - an explanation must never lose the transition
            operands = ({"text": "explanation failed", "value": str(exc), "unit": None},)
        parts = [f"{o['text']} = {_fmt(o['value'])}{' ' + o['unit'] if o['unit'] else ''}" for o in operands]
        explanation = ", ".join(parts)
        if spec.on_delay and tr.cause.value == "raised":
            explanation += f" for {spec.on_delay:g} s (held since {tr.time - spec.on_delay:.3f})"
        if (value is MISSING or isinstance(value, bool)) and operands:
            value = operands[0]["value"]
        message = self._message(ctx, node, tr, value, explanation)
        return AlarmEvent(
            alarm_id,
            tr.time,
            node.name,
            ctx.thing_id,
            ctx.twin_class.name,
            spec.severity.value,
            tr.previous.value,
            tr.state.value,
            tr.cause.value,
            tr.active,
            tr.latched,
            tr.chattering,
            None if value is MISSING else value,
            message,
            explanation,
            operands,
            node.version,
        )

    def _message(self, ctx: ThingContext, node: Node, tr: Transition, value: Any, explanation: str) -> str:
        spec = node.alarm
        assert spec is not None
        if spec.message is None:
            return f"{node.name} {tr.state.value} on {ctx.thing_id}: {explanation}"
        scope: dict[str, Any] = {k[4:]: v for k, v in ctx.values.items() if k.startswith("let:")}
        namespace, _, name = ctx.thing_id.partition(":")
        scope.update(
            value=value,
            thing={"id": ctx.thing_id, "namespace": namespace, "name": name},
            explanation=explanation,
            state=tr.state.value,
            rule=node.name,
            severity=spec.severity.value,
        )
        try:
            return spec.message(scope)
        except Exception as exc:  # noqa: BLE001 - a broken template still reports the alarm
            return f"{node.name} {tr.state.value} on {ctx.thing_id} (message failed: {exc})"

    def _health(self, ctx: ThingContext, node: Node, error: str | None, out: StepOutput) -> None:
        if error is None:
            ctx.health.pop(node.name, None)
        elif ctx.health.get(node.name) == error:
            return
        else:
            ctx.health[node.name] = error
        out.health.append(HealthEvent(ctx.now, ctx.thing_id, node.name, error, str(node.span)))

    def _schedule(self, ctx: ThingContext) -> None:
        self.touched.add(ctx.thing_id)
        cls = ctx.twin_class
        wake: float | None = None
        for name, status in ctx.alarms.items():
            when = next_deadline(status, self._configs[(cls.name, name)])
            if when is not None and (wake is None or when < wake):
                wake = when
        if cls.timed:
            for series in ctx.store.values():
                when = series.wake
                if when is not None and when <= ctx.now:
                    series.wake = when = None
                if when is not None and (wake is None or when < wake):
                    wake = when
        if wake != ctx.wake:
            ctx.wake = wake
            if wake is not None:
                self._seq += 1
                heapq.heappush(self._timers, (wake, self._seq, ctx.thing_id, cls.name))


def _tri(value: Any) -> bool | None:
    return None if value is MISSING else bool(value)


def _truthy(fn: Any, ctx: ThingContext) -> bool:
    try:
        return _tri(fn(ctx)) is True
    except Exception:  # noqa: BLE001 - a failing `where` does not bind the thing
        return False


def _fmt(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)
