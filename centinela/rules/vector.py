"""The vectorized backtest: the engine's transitions and computed rows, from columns instead of readings.

Per twin class (see `vector_plan` for which qualify) the replay builds each bound thing's *steps* as
the engine sees them in a backtest: the bind at the thing's first time (with every reading of that
instant), then one step per later reading of an input, in (time, path) order. Current input values are
forward-filled across a thing's steps; lets, computes and alarm conditions are evaluated from the IR
over all steps at once (`vector_expr`); windows are evaluated at their own instants, timers included
(`vector_window`). Computed values are written where they change, as the engine does. The alarm state
machine runs in Python, with the engine's own `step()` and `transition_event()`, only at the steps
where an alarm's condition inputs change: between those, the engine's evaluation is provably a no-op.
"""

from __future__ import annotations

import json
import operator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from centinela.dsl.checked import CheckedProgram
from centinela.dsl.program import NodeKind, Program
from centinela.rules.engine import Engine
from centinela.rules.output import AlarmEvent
from centinela.rules.vector_alarms import AlarmRun
from centinela.rules.vector_data import ComputedRows, Floats, History, Ints
from centinela.rules.vector_expr import Col, NotVectorizable, evaluate
from centinela.rules.vector_plan import ClassPlan, plan_program
from centinela.rules.vector_window import Ranked, WindowEvents, running_sums, time_ranks, window_events

__all__ = ["VectorResult", "replay"]

_READING, _BIND, _TIMER = 0, 1, 2  # what happens first at one instant: readings, binds, then timers
# The engine fires timers of one instant in the order it scheduled them: not replayed here.
_TIES = "Two alarm timers with transitions fall at the same instant."
_TIE_LIMIT = 2.0**62  # rows are ordered by (time, one integer) while that integer fits


@dataclass(slots=True)
class VectorResult:
    """What a vectorized replay produced: transitions in the engine's order, computed rows, counts."""

    transitions: list[AlarmEvent]
    rows: ComputedRows
    readings: int
    phases: list[int] = field(default_factory=list)  # per transition: reading, bind (for merging)
    tick_times: list[float] = field(default_factory=list)  # instants of alarm timers with transitions

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled (across a pipe) with each event as a plain tuple of its fields: several times faster."""
        events = [_event_fields(e) for e in self.transitions]
        return (_result, (events, self.rows, self.readings, self.phases, self.tick_times))

    @staticmethod
    def merge(parts: list[VectorResult]) -> VectorResult:
        """Results of partitions over ascending, disjoint thing ranges, as one replay would give them."""
        ticks = [t for p in parts for t in p.tick_times]
        if len(set(ticks)) != len(ticks):
            raise NotVectorizable(_TIES)
        events = [
            (e.time, ph, n, e)
            for n, p in enumerate(parts)
            for e, ph in zip(p.transitions, p.phases, strict=True)
        ]
        events.sort(key=lambda x: (x[0], x[1], x[2]))  # stable within a partition
        return VectorResult(
            [x[3] for x in events],
            ComputedRows.merge([p.rows for p in parts]),
            sum(p.readings for p in parts),
            [x[1] for x in events],
            ticks,
        )


_event_fields = operator.attrgetter(*AlarmEvent.__slots__)
_EVENT_SETTERS = tuple(AlarmEvent.__dict__[name].__set__ for name in AlarmEvent.__slots__)


def _result(
    events: list[tuple[Any, ...]], rows: ComputedRows, readings: int, phases: list[int], ticks: list[float]
) -> VectorResult:
    """A `VectorResult` from its pickled form: the frozen events refilled through their slots."""
    transitions = []
    new = object.__new__
    for fields in events:
        event = new(AlarmEvent)
        for setter, value in zip(_EVENT_SETTERS, fields, strict=True):
            setter(event, value)
        transitions.append(event)
    return VectorResult(transitions, rows, readings, phases, ticks)


@dataclass(slots=True)
class _Out:
    """Outputs of all classes, with the keys that put them in the engine's order."""

    events: list[tuple[tuple[float, int, int, int, int, int, int], AlarmEvent]] = field(default_factory=list)
    rows: list[tuple[Floats, Ints, Ints, Ints, int, int, int, Floats]] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    tick_times: list[float] = field(default_factory=list)  # alarm timers that made transitions


def _bind_docs(history: History, t0: Floats) -> list[dict[str, Any]]:
    """The document each thing is bound with: its id and the definition read at its first instant."""
    docs: list[dict[str, Any]] = [{"thingId": t} for t in history.things]
    code = {t: i for i, t in enumerate(history.things)}
    for time, thing, path, _value, value_json in history.other:
        i = code[thing]
        if path == "/definition" and time == t0[i] and value_json is not None:
            docs[i]["definition"] = json.loads(value_json)
    return docs


def replay(
    program: Program, checked: CheckedProgram, history: History, start: float, end: float
) -> VectorResult:
    """Replay `history` (the rows in [start, end)) through `program`; NotVectorizable when it cannot."""
    plans = plan_program(program, checked)
    inputs = {p for plan in plans for p in plan.inputs}
    for _t, thing, path, _v, _j in history.other:
        if any(p == path or p.startswith(path.rstrip("/") + "/") for p in inputs):
            msg = f"The reading of {path} of {thing} is not a plain number."
            raise NotVectorizable(msg)
    nthings = len(history.things)
    t0 = np.full(nthings, np.inf)
    if len(history.time):  # the columns are sorted by thing: one reduction per thing
        starts = np.searchsorted(history.thing, np.arange(nthings))
        has = np.bincount(history.thing, minlength=nthings) > 0
        firsts = np.minimum.reduceat(history.time, np.minimum(starts, len(history.time) - 1))
        t0[has] = firsts[has]
    code = {t: i for i, t in enumerate(history.things)}
    for time, thing, _p, _v, _j in history.other:
        t0[code[thing]] = min(t0[code[thing]], time)
    docs = _bind_docs(history, t0)
    out = _Out()
    counted = np.zeros(len(history.time), dtype=bool)
    later = history.time > t0[history.thing]
    matcher = Engine(program, record_readings=False)  # binds classes to things as the engine does
    for plan in plans:
        bound = np.array([matcher.matches(plan.cls, d) for d in docs], dtype=bool)
        if not bound.any():
            continue
        path_in = np.array([p in plan.inputs for p in history.paths], dtype=bool)
        sel = bound[history.thing] & path_in[history.path]
        counted |= sel & later
        _ClassReplay(plan, history, t0, bound, sel, end, out).run()
    if len(set(out.tick_times)) != len(out.tick_times):
        raise NotVectorizable(_TIES)
    out.events.sort(key=lambda e: e[0])
    kept = [(k, e) for k, e in out.events if start <= e.time <= end]
    return VectorResult(
        [e for _, e in kept], _rows(out, history), int(counted.sum()), [k[1] for k, _ in kept],
        out.tick_times,
    )  # fmt: skip


def _rows(out: _Out, history: History) -> ComputedRows:
    """Every class's rows in one table, in the engine's order (instant, then thing, step, rule)."""
    if not out.rows:
        empty, ints = np.zeros(0), np.zeros(0, dtype=np.int64)
        return ComputedRows(empty, ints, ints, empty, (), history.things, ())
    # One integer for (phase, thing, path, class, rule) when it fits, then time: a two-key sort. A
    # chunk's class, key and rule are constants: they are never spread into columns of their own.
    positions = max(c[4] for c in out.rows) + 1
    nodes = max(c[6] for c in out.rows) + 1
    sizes = [3.0, len(history.things) + 1.0, len(history.paths) + 2.0, float(positions), float(nodes)]
    if float(np.prod(np.array(sizes))) >= _TIE_LIMIT:
        return _rows_wide(out, history)
    low = positions * nodes
    key_of = np.zeros(low, dtype=np.int64)  # (class, rule) -> the row key: rebuilt after the sort
    t_parts, tie_parts = [], []
    for chunk in out.rows:
        t, phase, thing, path, pos, key, node, _value = chunk
        head = (phase * (len(history.things) + 1) + thing) * (len(history.paths) + 2) + (path + 1)
        t_parts.append(t)
        tie_parts.append(head * low + (pos * nodes + node))
        key_of[pos * nodes + node] = key
    t, tie = np.concatenate(t_parts), np.concatenate(tie_parts)
    order = np.lexsort((tie, t))
    # Fresh 1.5M-row arrays are costly (page faults): decode in place where the result is not kept.
    tie = tie[order]
    keys = key_of[tie % low]
    np.floor_divide(tie, low * (len(history.paths) + 2), out=tie)  # now phase, thing
    phase = tie // (len(history.things) + 1)
    np.remainder(tie, len(history.things) + 1, out=tie)  # now thing
    value = np.concatenate([c[7] for c in out.rows])[order]
    return ComputedRows(
        t[order], tie, keys, value, tuple(out.kinds), history.things, tuple(out.keys), phase
    )  # fmt: skip


def _rows_wide(out: _Out, history: History) -> ComputedRows:
    """`_rows` when the tie-breaking integer would not fit: a six-key sort."""
    cols: list[list[Any]] = [[] for _ in range(8)]
    for chunk in out.rows:
        n = len(chunk[0])
        parts = (*chunk[:4], *(np.full(n, c) for c in chunk[4:7]), chunk[7])
        for col, part in zip(cols, parts, strict=True):
            col.append(part)
    t, phase, thing, path, pos, key, node, value = (np.concatenate(c) for c in cols)
    order = np.lexsort(np.stack([node, pos, path, thing, phase, t]))
    return ComputedRows(
        t[order], thing[order], key[order], value[order], tuple(out.kinds), history.things, tuple(out.keys),
        phase[order].astype(np.int64),
    )  # fmt: skip


def _ranks(h: History, sel: Any, everything: bool, all_t: Floats, bind_t: Floats) -> tuple[Floats, Ints]:
    """Distinct times and the ranks of the readings then the binds: from the history when it has them."""
    if h.times is not None and h.rank is not None:
        at = np.searchsorted(h.times, bind_t)
        if bool(np.all(h.times[np.minimum(at, len(h.times) - 1)] == bind_t)):
            readings = h.rank if everything else h.rank[sel]
            return h.times, np.concatenate([readings, at.astype(np.int64)])
    return time_ranks(all_t)


def _all_bound(bound: Any) -> bool:
    """Every thing is bound (dense indices are the thing codes)."""
    return bool(np.all(bound))


class _ClassReplay:
    """One class over the things bound to it."""

    def __init__(
        self, plan: ClassPlan, h: History, t0: Floats, bound: Any, sel: Any, end: float, out: _Out
    ) -> None:
        self.plan, self.h, self.end, self.out = plan, h, end, out
        self.things = np.flatnonzero(bound).astype(np.int64)  # dense index -> thing code
        dense = np.full(len(h.things), -1, dtype=np.int64)
        dense[self.things] = np.arange(len(self.things))
        self.bind_t = t0[self.things]
        everything = bool(sel.all()) and _all_bound(bound)
        if everything:  # every reading and every thing: no copies to select
            k, p, t, x = h.thing, h.path, h.time, h.value
        else:
            k, p, t, x = dense[h.thing[sel]], h.path[sel], h.time[sel], h.value[sel]
        self.rows = (k, p, t, x)  # this class's readings, sorted by (thing, path, time)
        nb = len(self.things)
        # Every reading and one bind marker per thing, in the engine's order: thing, time, path; the
        # bind comes after the readings of its instant (they are all in the bind document).
        all_k = np.concatenate([k, np.arange(nb, dtype=np.int64)])
        all_t = np.concatenate([t, self.bind_t])
        all_p = np.concatenate([p, np.full(nb, len(h.paths), dtype=np.int64)])
        # One stable sort by (thing, time rank): the readings come in (thing, path, time) order and the
        # binds last, so within one instant of a thing the paths stay in order and the bind comes last.
        times, rank = _ranks(h, sel, everything, all_t, self.bind_t)
        code = all_k * (len(times) + 1) + rank
        order = np.argsort(code, kind="stable")
        self.all_k, self.all_p, self.all_t = all_k[order], all_p[order], all_t[order]
        self.all_x = np.concatenate([x, np.zeros(nb)])[order]
        self.bind = self.all_p == len(h.paths)
        self.step = self.bind | (self.all_t > self.bind_t[self.all_k])
        self.step_pos = np.flatnonzero(self.step)
        self._ranked = Ranked.from_codes(times, code[order][self.step_pos])
        # Positions grouped by path (each group in position order): a frame merges its paths' groups.
        small = self.all_p.astype(np.int16 if len(h.paths) < 2**15 - 1 else np.int64)
        self.by_path = np.argsort(small, kind="stable")  # a radix sort for int16
        self.path_starts = np.searchsorted(small[self.by_path], np.arange(len(h.paths) + 2))
        self.pcode = {path: i for i, path in enumerate(h.paths)}
        self.index = {n.key: i for i, n in enumerate(plan.checked.nodes)}
        self.frames: dict[frozenset[str], _Frame] = {}

    def position_at(self, k: int, when: float) -> int:
        """The position of thing k's last step at or before `when` (its bind at least)."""
        i = int(self.ranked_steps().right(np.array([k]), np.array([when]))[0]) - 1
        return int(self.step_pos[i])

    def value_at(self, key: str, position: int) -> tuple[Col, int]:
        """`key` as the context holds it after the step at `position`: a column and an index in it."""
        f = self.frame(self.key_inputs(key))
        return f.env(key), int(np.searchsorted(f.spos, position, side="right")) - 1

    def ranked_steps(self) -> Ranked:
        """Every step of the class's things, searchable by (thing, time)."""
        return self._ranked

    def positions(self, codes: list[int]) -> Ints:
        """The positions of the readings of these path codes (len(paths): the binds), in order."""
        b = self.path_starts
        parts = [self.by_path[b[c] : b[c + 1]] for c in sorted(set(codes))]
        return np.sort(np.concatenate(parts), kind="stable") if len(parts) > 1 else parts[0]

    def frame(self, inputs: frozenset[str]) -> _Frame:
        """The steps at which the engine evaluates the nodes reading exactly `inputs`."""
        f = self.frames.get(inputs)
        if f is None:
            f = self.frames[inputs] = _Frame(self, inputs)
        return f

    def key_inputs(self, key: str) -> frozenset[str]:
        if key in self.plan.checked.inputs:
            return frozenset((key,))
        i = self.index.get(key)
        if i is None or i in self.plan.windowed:
            msg = f"The key {key} is not vectorized at every step."
            raise NotVectorizable(msg)
        return self.plan.node_inputs[i]

    def run(self) -> None:
        for i, node in enumerate(self.plan.checked.nodes):
            if i in self.plan.windowed or node.kind is NodeKind.LET:
                continue  # lets are evaluated where something reads them
            f = self.frame(self.plan.node_inputs[i])
            if node.kind is NodeKind.COMPUTE:
                self.write(i, f.node(i), f.st, f.sk, f.phase, f.sp)
            else:
                self.alarm(i, f)
        for path in sorted(set(self.plan.windowed.values())):
            _WindowFrame(self, path).run()

    def write(self, i: int, col: Col, t: Floats, k: Ints, phase: Ints, path: Ints) -> None:
        """Computed rows where the value changes (per thing), as the engine writes them."""
        node = self.plan.checked.nodes[i]
        at = np.flatnonzero(~col.miss)
        vals, ks = col.val[at], k[at]
        if node.expr.ty.value == "number" and col.kind != "b" and not np.all(np.isfinite(vals)):
            msg = f"The computed value {node.name} is not always finite."
            raise NotVectorizable(msg)
        keep = np.ones(len(at), dtype=bool)
        keep[1:] = (ks[1:] != ks[:-1]) | (vals[1:] != vals[:-1])
        at, vals = at[keep], vals[keep].astype(np.float64)
        out = self.out
        out.keys.append(node.key)
        out.kinds.append(col.kind)
        node_key = len(out.keys) - 1
        things = self.things[k[at]]
        out.rows.append((t[at], phase[at], things, path[at], self.plan.position, node_key, i, vals))

    def alarm(self, i: int, f: _Frame) -> None:
        node = self.plan.checked.nodes[i]
        spec = node.alarm
        assert spec is not None
        col = f.node(i)
        if col.kind != "b":
            msg = f"The condition of alarm {node.name} is not a boolean."
            raise NotVectorizable(msg)
        r = np.where(col.miss, 2, col.val.astype(np.int8))
        if spec.clear is not None:
            clear = evaluate(spec.clear, f.n, f.env, _no_series)
            if clear.kind != "b":
                msg = f"The clear condition of alarm {node.name} is not a boolean."
                raise NotVectorizable(msg)
            c = np.where(clear.miss, 2, clear.val.astype(np.int8))
        else:
            c = np.full(f.n, 3, dtype=np.int8)
        # `suppress` counts as true only when it is (a missing one does not suppress).
        sup = np.zeros(f.n, dtype=bool)
        if spec.suppress is not None:
            col_s = evaluate(spec.suppress, f.n, f.env, _no_series)
            if col_s.kind != "b":
                msg = f"The suppress condition of alarm {node.name} is not a boolean."
                raise NotVectorizable(msg)
            sup = col_s.val & ~col_s.miss
        change = np.ones(f.n, dtype=bool)
        change[1:] = (f.sk[1:] != f.sk[:-1]) | (r[1:] != r[:-1]) | (c[1:] != c[:-1]) | (sup[1:] != sup[:-1])
        points = np.flatnonzero(change)
        run = AlarmRun(self, i, f)
        run.run(points, r[points].tolist(), c[points].tolist(), sup[points].tolist())


class _Frame:
    """The steps at which nodes reading `inputs` are evaluated: binds, then readings of those inputs."""

    def __init__(self, rp: _ClassReplay, inputs: frozenset[str]) -> None:
        self.rp, self.inputs = rp, inputs
        codes = [rp.pcode[q] for q in inputs if q in rp.pcode]
        self.pos = rp.positions([*codes, len(rp.h.paths)])  # the readings of the inputs and the binds
        self.fk = rp.all_k[self.pos]
        self.fp = rp.all_p[self.pos]
        at_step = rp.step[self.pos]
        self.eval = np.flatnonzero(at_step)
        self.spos = self.pos[self.eval]  # the steps
        self.n = len(self.spos)
        self.sk, self.st = rp.all_k[self.spos], rp.all_t[self.spos]
        self.memo: dict[str, Col] = {}

    @cached_property
    def sp(self) -> Ints:
        """Per step: the path read (-1 at a bind). Built when rows are written (alarms take a few)."""
        rp = self.rp
        return np.where(rp.bind[self.spos], -1, rp.all_p[self.spos])

    @cached_property
    def phase(self) -> Ints:
        """Per step: a reading or a bind."""
        return np.where(self.rp.bind[self.spos], _BIND, _READING).astype(np.int64)

    def env(self, key: str) -> Col:
        col = self.memo.get(key)
        if col is not None:
            return col
        rp = self.rp
        if key in self.inputs:
            code = rp.pcode.get(key, -2)
            idx = np.where(self.fp == code, np.arange(len(self.pos)), -1)
            last = np.maximum.accumulate(idx)[self.eval] if len(idx) else idx
            valid = (last >= 0) & (self.fk[np.maximum(last, 0)] == self.sk)
            col = Col("f", rp.all_x[self.pos[np.maximum(last, 0)]], ~valid)
        elif rp.key_inputs(key) <= self.inputs and key not in rp.plan.checked.inputs:
            col = evaluate(rp.plan.expr(rp.index[key]), self.n, self.env, _no_series)
        else:  # evaluated at its own steps; held in between
            other = rp.frame(rp.key_inputs(key))
            j = np.searchsorted(other.spos, self.spos, side="right") - 1
            col = other.env(key).take(j)
        self.memo[key] = col
        return col

    def node(self, i: int) -> Col:
        return self.env(self.rp.plan.checked.nodes[i].key)


def _no_series(method: str, key: str, params: tuple[Any, ...]) -> Col:
    msg = f"{method}({key}) is read outside its window's instants."
    raise NotVectorizable(msg)


class _WindowFrame:
    """The instants of one windowed path: nodes reading its window are evaluated there."""

    def __init__(self, replay: _ClassReplay, path: str) -> None:
        self.rp, self.path = replay, path
        k, p, t, x = replay.rows
        mine = p == replay.pcode.get(path, -2)
        self.pk, self.pt, self.px = k[mine], t[mine], x[mine]
        steps = replay.ranked_steps()
        seconds = replay.plan.seconds[path]
        self.ev: WindowEvents = window_events(
            self.pk, self.pt, self.px, replay.bind_t, steps, seconds, replay.end
        )
        self.n = len(self.ev.time)
        self.memo: dict[int, Col] = {}

    def env(self, key: str) -> Col:
        ev = self.ev
        if key == self.path:
            pstart = np.searchsorted(self.pk, ev.thing, side="left")
            have = ev.hi > pstart
            return Col("f", self.px[np.maximum(ev.hi - 1, 0)], ~have)
        i = self.rp.index.get(key)
        if i is None:
            msg = f"{key} is read at the window instants of {self.path}."
            raise NotVectorizable(msg)
        if i not in self.rp.plan.windowed and self.rp.plan.node_inputs[i] - {self.path}:
            msg = f"{key} is read at the window instants of {self.path}."
            raise NotVectorizable(msg)
        return self.node(i)

    def node(self, i: int) -> Col:
        col = self.memo.get(i)
        if col is None:
            col = self.memo[i] = evaluate(self.rp.plan.expr(i), self.n, self.env, self.series)
        return col

    def series(self, method: str, key: str, params: tuple[Any, ...]) -> Col:
        ev = self.ev
        n = ev.count()
        empty = n == 0
        if method == "count":
            return Col("i", n.astype(np.float64), np.zeros(self.n, dtype=bool))
        if method == "sum":
            return Col("f", ev.total, empty)
        if method == "avg":
            return Col("f", ev.total / np.maximum(n, 1), empty)
        if method == "stddev":  # the engine's running sums of x and x*x, then its formula
            squares = running_sums(ev.thing, ev.lo, ev.hi, self.px * self.px)
            nf = n.astype(np.float64)
            with np.errstate(all="ignore"):
                mean = ev.total / nf
                var = (squares - nf * mean * mean) / (nf - 1.0)
            return Col("f", np.sqrt(np.where(var > 0.0, var, 0.0)), n < 2)
        if method in ("delta", "rate"):  # newest minus oldest point of the window (per second)
            last, first = np.maximum(ev.hi - 1, 0), np.minimum(ev.lo, max(len(self.px) - 1, 0))
            if not len(self.px):
                return Col("f", np.zeros(self.n), np.ones(self.n, dtype=bool))
            dx = self.px[last] - self.px[first]
            if method == "delta":
                return Col("f", dx, n < 2)
            dt = self.pt[last] - self.pt[first]
            with np.errstate(all="ignore"):
                return Col("f", dx / np.where(dt == 0, 1.0, dt), (n < 2) | (dt == 0))
        ufunc = np.minimum if method == "min" else np.maximum
        padded = np.append(self.px, 0.0)
        bounds = np.empty(2 * self.n, dtype=np.int64)
        bounds[0::2], bounds[1::2] = ev.lo, ev.hi
        vals = ufunc.reduceat(padded, np.minimum(bounds, len(self.px)))[0::2] if self.n else np.zeros(0)
        return Col("f", vals, empty)

    def run(self) -> None:
        rp, ev = self.rp, self.ev
        phase = np.where(ev.timer, _TIMER, _READING).astype(np.int64)
        phase[np.isin(np.arange(self.n), np.searchsorted(ev.thing, np.arange(len(rp.things))))] = _BIND
        path = np.full(self.n, rp.pcode.get(self.path, -1), dtype=np.int64)
        path[phase == _BIND] = -1
        for i in sorted(rp.plan.windowed):
            node = rp.plan.checked.nodes[i]
            if rp.plan.windowed[i] == self.path and node.kind is NodeKind.COMPUTE:
                rp.write(i, self.node(i), ev.time, ev.thing, phase, path)
