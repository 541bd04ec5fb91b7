"""Alarms of the vectorized backtest: the engine's state machine, run only where its inputs change.

At each step where an alarm's condition, clear condition or suppress condition changes, the engine's own
decisions (`Engine._run`'s shortcut for plain alarms, then `Engine._alarm`) are taken again here and the
real `step()` is called; its transitions become `AlarmEvent`s through the real `transition_event()`.
Between two such steps the engine's evaluation is a no-op: the alarm has no deadline (no delays, no
chattering), so nothing but a changed input can move it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from centinela.dsl.ir import walk
from centinela.dsl.program import MISSING, MissingPolicy, NodeKind
from centinela.rules.alarms import (
    AlarmConfig,
    AlarmStatus,
    Evaluation,
    MissingMode,
    Tick,
    next_deadline,
    settled,
    step,
)
from centinela.rules.context import ThingContext, thing_values
from centinela.rules.explain import transition_event
from centinela.rules.vector_data import Ints
from centinela.rules.vector_expr import to_python

__all__ = ["AlarmRun"]

_NORMAL = AlarmStatus()
_READING, _BIND, _TIMER = 0, 1, 2  # at one instant: readings, binds, then timers


class AlarmRun:
    """The engine's evaluation of one alarm at its change points, with the real `step()`."""

    def __init__(self, replay: Any, i: int, frame: Any) -> None:
        self.replay, self.i, self.f = replay, i, frame
        self.node = replay.plan.cls.nodes[i]
        spec = self.node.alarm
        assert spec is not None
        self.spec = spec
        self.config = AlarmConfig(
            spec.on_delay, spec.off_delay, spec.latch, MissingMode(spec.on_missing.value), spec.chatter
        )
        checked = replay.plan.checked.nodes[i].alarm
        assert checked is not None
        loads = {str(s.value) for e in checked.operands for s in _loads(e)}
        if spec.message is not None:
            loads |= {n.key for n in replay.plan.checked.nodes if n.kind is NodeKind.LET}
        self.loads = sorted(loads)

    def run(self, points: Ints, rs: list[int], cs: list[int], sups: list[bool]) -> None:
        """The engine's `_run` and `_alarm` decisions, then `step()`, at each change point."""
        f = self.f
        spec, config, hold = self.spec, self.config, self.spec.on_missing is MissingPolicy.HOLD
        raise_on_missing = self.spec.on_missing is MissingPolicy.RAISE
        has_clear, plain = spec.clear is not None, spec.suppress is None
        sks, sts = f.sk[points].tolist(), f.st[points].tolist()
        statuses: dict[int, AlarmStatus] = {}
        timed = bool(spec.on_delay or spec.off_delay or spec.chatter)
        last = -1
        pending: list[tuple[int, int, Any, list[Any]]] = []  # transitions at steps, explained at the end
        for j, (k, now, r, c, suppressed) in enumerate(zip(sks, sts, rs, cs, sups, strict=True)):
            if timed and k != last:
                if last >= 0:  # the previous thing's deadlines left, up to the end of the replay
                    status = statuses.get(last, _NORMAL)
                    statuses[last] = self.ticks(last, status, self.replay.end, inclusive=True)
                last = k
            status = statuses.get(k, _NORMAL)
            if timed and next_deadline(status, config) is not None:
                # A deadline before this step fires first, at its own time (the engine's catch-up).
                status = statuses[k] = self.ticks(k, status, now, inclusive=False)
            value: Any = MISSING if r == 2 else r == 1
            cleared_v = None if not has_clear or c == 2 else c == 1
            if plain and value is not MISSING and value is status.raised and not status.suppressed:
                if not status.active:
                    continue
                if cleared_v == status.cleared or (cleared_v is None and status.cleared is not value):
                    continue
            raised = None if value is MISSING else value
            if raised is None and not hold:
                raised = raise_on_missing
            if raised is status.raised and plain and not status.suppressed and not status.active:
                continue
            cleared = cleared_v
            if settled(status, raised, cleared, suppressed):
                continue
            if value is MISSING:
                cleared = None if hold else not raised
            new, transitions = step(status, config, Evaluation(raised, cleared, suppressed), now)
            statuses[k] = new
            if transitions:
                pending.append((j, k, value, transitions))
        if timed and last >= 0:
            self.ticks(last, statuses.get(last, _NORMAL), self.replay.end, inclusive=True)
        self.emit(points[[p[0] for p in pending]], pending)

    def ticks(self, k: int, status: AlarmStatus, limit: float, *, inclusive: bool) -> AlarmStatus:
        """The engine's timer for this alarm's deadlines due before `limit` (at it, if `inclusive`)."""
        while (due := next_deadline(status, self.config)) is not None and (
            due < limit or (inclusive and due <= limit)
        ):
            status, transitions = step(status, self.config, Tick(), due)
            if transitions:
                self.replay.out.tick_times.append(due)
                self.emit_tick(k, due, transitions)
        return status

    def emit_tick(self, k: int, when: float, transitions: list[Any]) -> None:
        """Transitions of a timer: the context holds the values of the thing's last step by then."""
        rp = self.replay
        position = rp.position_at(k, when)
        thing_id = rp.h.things[int(rp.things[k])]
        values = thing_values(thing_id)
        for key in self.loads:
            col, j = rp.value_at(key, position)
            if not col.miss[j]:
                values[key] = to_python(col.kind, col.val[j])
        ctx = ThingContext(thing_id, rp.plan.cls, {}, values=values, now=when)
        base = (when, _TIMER, int(rp.things[k]), -1, rp.plan.position)
        for n, tr in enumerate(transitions):
            event = transition_event(ctx, self.node, tr, MISSING)
            rp.out.events.append(((*base, self.i, n), event))

    def emit(self, at: Ints, pending: list[tuple[int, int, Any, list[Any]]]) -> None:
        """The transitions found at the steps `at` (frame indices), explained with one gather per key."""
        if not pending:
            return
        rp, f = self.replay, self.f
        columns = []
        for key in self.loads:
            col = f.env(key)
            vals = col.val[at]
            if col.kind == "i":
                listed = [int(v) for v in vals.tolist()]
            else:  # as `to_python` gives them: bools or floats
                listed = vals.astype(bool if col.kind == "b" else np.float64).tolist()
            columns.append((key, listed, col.miss[at].tolist()))
        bind = rp.bind[f.spos[at]]  # the phase and path of those steps only (not whole columns)
        times = f.st[at].tolist()
        phases = np.where(bind, _BIND, _READING).tolist()
        paths = np.where(bind, -1, rp.all_p[f.spos[at]]).tolist()
        things = rp.things.tolist()
        names, cls, node, position, out = rp.h.things, rp.plan.cls, self.node, rp.plan.position, rp.out.events
        for n, (_j, k, value, transitions) in enumerate(pending):
            thing_id = names[things[k]]
            values = thing_values(thing_id)
            for key, listed, miss in columns:
                if not miss[n]:
                    values[key] = listed[n]
            ctx = ThingContext(thing_id, cls, {}, values=values, now=times[n])
            base = (times[n], phases[n], things[k], paths[n], position)
            for m, tr in enumerate(transitions):
                out.append(((*base, self.i, m), transition_event(ctx, node, tr, value)))


def _loads(e: Any) -> list[Any]:
    return [s for s in walk(e) if s.op == "load"]
