"""Fused ingest functions: one generated function per (twin class, input path) doing a reading's whole step.

A fused function takes the common case of a reading end to end in straight-line code: the order and
duplicate check, the value, the series push, every dependent node inline (values kept in locals),
computed values compared with what was written and recorded, and plain alarms whose state machine
inputs did not change settled inline. Every rare case is handed back to the engine through the hooks
of `FusedHooks` (see `centinela.dsl.program`), which run the general code: the function returns False
before touching anything when the reading is not the common case (the engine then takes it the general
way), and calls `hooks.finish` with the trigger's results when a node failed or the thing has rule
health to report.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from centinela.dsl.checked import CheckedNode
from centinela.dsl.ir import TExpr, Ty, walk
from centinela.dsl.program import ALARM_FEATURE, NodeKind

if TYPE_CHECKING:
    from centinela.dsl.compile import _ClassGen


def finite_check(node: CheckedNode, local: str) -> list[str]:
    """Inside a node's `try`: a numeric compute must be a finite number (an input of another type fails)."""
    if node.kind is not NodeKind.COMPUTE or node.expr.ty is not Ty.NUM:
        return []
    # written back to the twin as JSON, which has no NaN or infinity: x * 0 is NaN for both
    return [
        f"        if {local} is not M and {local} * 0.0 != 0.0:",
        f"            raise _nonfinite({local})",
    ]


def member_lines(
    node: CheckedNode, local: str, code: str, failed: str, kept: list[str], series_local: str | None
) -> list[str]:
    """A node's evaluation in generated code, with its value in `local`.

    `local = code`, checked finite; on an exception the `failed` statement and a missing value; then
    `kept` (an `else:` of the `try`), the value into `v` (or out of it when missing) and onto its
    series (`series_local`) when the node feeds one.
    """
    lines = ["    try:", f"        {local} = {code}", *finite_check(node, local)]
    lines += ["    except Exception as _e:", f"        {failed}", f"        {local} = M", *kept]
    lines += [
        f"    if {local} is M:",
        f"        v.pop({node.key!r}, None)",
        "    else:",
        f"        v[{node.key!r}] = {local}",
    ]
    if series_local is not None:
        lines.append(f"        {series_local}.append(now, {local})")
    return lines


__all__ = ["FusedMap", "finite_check", "fused_source", "member_lines", "tick_source"]

Fused = Any  # (hooks, ctx, value, time, out) -> bool
_INF = float("inf")


def _fail(errs: dict[int, Any] | None, index: int, error: Any) -> dict[int, Any]:
    if errs is None:
        errs = {}
    errs[index] = error
    return errs


class _Unknown:
    """A clear condition that raised: never equal to a recorded one, so the engine re-evaluates it."""

    __slots__ = ()


def fused_source(
    gen: _ClassGen, name: str, key: str, members: tuple[int, ...], timed: bool = True
) -> list[str]:
    """The source of the fused ingest function of input `key` (members: the nodes its trigger runs).

    `timed`: the class has nodes whose value changes with time alone (`TwinClass.timed`).
    """
    cls = gen.cls
    own = key if cls.series.get(key, (None, 0.0))[0] == key else None
    head = [
        f"def {name}(hooks, ctx, value, time, out):",
        "    if value is None:",
        "        return False",
        "    seen = ctx.seen",
        f"    last = seen.get({key!r})",
        "    if last is not None and time <= last:",
        "        return False",
        "    wake = ctx.wake",
        "    if wake is not None and wake < time:",  # timers due before the reading fire first
        "        hooks.catch_up(ctx, time, out)",
        "        wake = ctx.wake",
        f"    seen[{key!r}] = time",
        "    now = ctx.now",
        "    if time > now:",
        "        ctx.now = now = time",
        "    v = ctx.values",
        f"    v[{key!r}] = value",
    ]
    lines, series = _body(gen, head, key, members, own, "return True")
    if not members:
        return [*lines, "    return True"]  # no rule reads it (a `where` input): nothing runs, as in `_run`
    if series:  # a window or staleness deadline may have moved: the engine's `_schedule`, inline
        return [*lines, *_schedule(timed), "    return True"]
    # Nothing timed changed unless an alarm went through the engine (`full`): the context's next wake
    # is what it was, unless it is due right now (the engine then clears what fell due).
    return [
        *lines,
        "    if full or (wake is not None and wake <= now):",
        "        hooks.schedule(ctx)",
        "        return True",
        "    hooks.touched.add(ctx.thing_id)",
        "    if wake is not None and (ctx.scheduled is None or wake < ctx.scheduled):",
        "        hooks.push(ctx, wake)",
        "    return True",
    ]


def tick_source(gen: _ClassGen, name: str, key: str, members: tuple[int, ...]) -> list[str]:
    """The source of the fused timer function of input `key`: `tick(hooks, ctx, out)`.

    It re-runs, at `ctx.now`, the nodes of the trigger of `key` on the current values (a window edge
    or staleness deadline of the path's series fell due) and does what the engine's `_run` does with
    the results, without re-arming the timers: the engine's `_fire` does that once all due edges ran.
    """
    head = [
        f"def {name}(hooks, ctx, out):",
        "    now = ctx.now",
        "    v = ctx.values",
        f"    value = v.get({key!r}, M)",
    ]
    lines, _ = _body(gen, head, key, members, None, "return")
    return [*lines, "    return"]


def _body(
    gen: _ClassGen, head: list[str], key: str, members: tuple[int, ...], own: str | None, ret: str
) -> tuple[list[str], dict[str, str]]:
    """`head`, then the series, the trigger's nodes inline and their effects (see `_effects`).

    `ret` ends the function when `hooks.finish` took the results; the caller adds the tail.
    """
    em = gen.em
    em.consts.setdefault("_fail", _fail)
    em.consts.setdefault("_U", _Unknown())
    em.consts.setdefault("_bool", bool)
    em.consts.setdefault("_min", min)
    em.consts.setdefault("_INF", _INF)
    cls = gen.cls
    nodes = cls.nodes
    produced = {nodes[i].key: f"_n{i}" for i in members}
    exprs = [nodes[i].expr for i in members]
    clears: dict[int, TExpr] = {}
    for i in members:
        alarm = nodes[i].alarm
        if nodes[i].kind is NodeKind.ALARM and alarm is not None and alarm.suppress is None and alarm.clear:
            clears[i] = alarm.clear
    every = exprs + list(clears.values())
    loads = sorted({str(s.value) for e in every for s in walk(e) if s.op == "load"} - set(produced) - {key})
    env = {k: f"_l{j}" for j, k in enumerate(loads)}
    env[key] = "value"
    fed = {nodes[i].key for i in members if nodes[i].key in cls.series}
    series = gen._series_locals(every, fed | ({own} if own else set()))
    lines = list(head)
    if series:
        lines.append("    store = ctx.store")
        lines += [f"    {local} = store.get({k!r}) or ctx.series({k!r})" for k, local in series.items()]
    if own:
        lines.append(f"    {series[own]}.add(time, value)")
    if not members:
        return lines, series
    lines += [f"    {local} = v.get({k!r}, M)" for k, local in env.items() if k != key]
    lines.append("    errs = None")
    env.update(produced)
    for i in members:
        node = nodes[i]
        local = produced[node.key]
        code = em.expr(node.expr, env, series)
        feeds = series[node.key] if node.key in fed else None
        lines += member_lines(node, local, code, f"errs = _fail(errs, {i}, _err({i}, _e))", [], feeds)
    results = ", ".join(f"({i}, {produced[nodes[i].key]})" for i in members)
    lines += [
        "    if errs is not None or ctx.health:",
        f"        hooks.finish(ctx, [{results}], errs, out)",
        f"        {ret}",
    ]
    lines += _effects(gen, members, produced, clears, env, series)
    return lines, series


def _schedule(timed: bool) -> list[str]:
    """What the engine's `_schedule` does: the context's next wake from its deadlines and series."""
    lines = [
        "    hooks.touched.add(ctx.thing_id)",
        "    _dl = ctx.deadlines",
        "    _w = _min(_dl.values()) if _dl else None",
    ]
    if timed:  # `_INF` (this very object) stands for "no wake yet": one comparison less per series
        lines += [
            "    if _w is None:",
            "        _w = _INF",
            "    _now = ctx.now",
            "    for _s in ctx.store.values():",
            "        _sw = _s.wake",
            "        if _sw is not None:",
            "            if _sw <= _now:",
            "                _s.wake = None",
            "            elif _sw < _w:",
            "                _w = _sw",
            "    if _w is _INF:",
            "        _w = None",
        ]
    return [
        *lines,
        "    ctx.wake = _w",
        "    if _w is not None and (ctx.scheduled is None or _w < ctx.scheduled):",
        "        hooks.push(ctx, _w)",
    ]


def _effects(
    gen: _ClassGen,
    members: tuple[int, ...],
    produced: dict[str, str],
    clears: dict[int, TExpr],
    env: dict[str, str],
    series: dict[str, str],
) -> list[str]:
    """What the engine's `_run` does with each result, inline for the common cases."""
    nodes = gen.cls.nodes
    computes = [i for i in members if nodes[i].kind is NodeKind.COMPUTE]
    alarms = [i for i in members if nodes[i].kind is NodeKind.ALARM]
    lines: list[str] = ["    full = False"]
    if computes:
        lines += ["    tid = ctx.thing_id", "    wr = ctx.written", "    ch = None"]
    if alarms:
        lines.append("    al = ctx.alarms")
    for i in members:
        node = nodes[i]
        local = produced[node.key]
        if node.kind is NodeKind.COMPUTE:
            k = repr(node.key)
            lines += [
                f"    if {local} is not M and wr.get({k}, M) != {local}:",
                f"        wr[{k}] = {local}",
                "        if ch is None:",
                "            ch = out.changes.get(tid)",
                "            if ch is None:",
                "                ch = out.changes[tid] = {}",
                f"        ch[{k}] = {local}",
                f"        out.rows.append((now, tid, {k}, {local}))",
            ]
        elif node.kind is NodeKind.ALARM:
            lines += _alarm_effect(gen, i, local, clears.get(i), env, series)
    return lines


def _alarm_effect(
    gen: _ClassGen, i: int, local: str, clear: TExpr | None, env: dict[str, str], series: dict[str, str]
) -> list[str]:
    node = gen.cls.nodes[i]
    assert node.alarm is not None
    call = f"hooks.alarm(ctx, {i}, {local}, out); full = True"
    if node.alarm.suppress is not None:
        return [f"    {call}"]
    # A plain alarm whose raise condition is what it was settles at once while idle; while active,
    # also its clear condition must be what it was (the engine's `_run` checks the same).
    lines = [
        f"    if {local}.__class__ is not _bool or (st := al.get({node.name!r})) is None "
        f"or {local} is not st.raised or st.suppressed:",
        f"        {call}",
        "    elif st.active:",
    ]
    if clear is None:
        check = f"        if st.cleared is not None and st.cleared is {local}:"
        return [*lines, check, f"            {call}"]
    spec = node.alarm
    clear_lines = [
        "        try:",
        f"            _c = {gen.em.expr(clear, env, series)}",
        "            _c = None if _c is M else (_c if _c.__class__ is _bool else _bool(_c))",
        "        except Exception:",
        "            _c = _U",
    ]
    if spec.on_delay or spec.off_delay or spec.latch or spec.chatter is not None:
        return [
            *lines,
            *clear_lines,
            f"        if not (_c == st.cleared or (_c is None and st.cleared is not {local})):",
            f"            {call}",
        ]
    # No delay, latch or chatter: while active, a raise condition that changed with a clear condition
    # that does not clear (false, or true with the raise condition true) is no transition; the state
    # machine (`_plain_step`) records both conditions and the feature's state stays what it was.
    name = repr(node.name)
    feature = repr(ALARM_FEATURE + node.name)
    head = [
        f"    if {local}.__class__ is not _bool or (st := al.get({name})) is None or st.suppressed:",
        f"        {call}",
        "    elif st.active:",
    ]
    return [
        *head,
        *clear_lines,
        f"        if {local} is st.raised:",
        f"            if not (_c == st.cleared or (_c is None and st.cleared is not {local})):",
        f"                {call}",
        "        elif (",
        f"            _c.__class__ is _bool and (not _c or {local})",
        "            and st.pending_since is None and st.clearing_since is None and st.shelved_until is None",
        "            and not st.latched and not st.chattering and not st.out_of_service",
        f"            and (_f := ctx.written.get({feature})) is not None and _f['state'] == st.state._value_",
        "        ):",
        f"            al[{name}] = hooks.conditions(st, {local}, _c)",
        f"            if ctx.deadlines.pop({name}, None) is not None:",
        "                full = True",
        "        else:",
        f"            {call}",
        f"    elif {local} is not st.raised:",
        f"        {call}",
    ]


class FusedMap(Mapping[str, Fused]):
    """Input key → fused ingest function (with `tick`, fused timer function), generated on first use."""

    def __init__(
        self, gen: _ClassGen, plan: Mapping[str, tuple[int, ...]], timed: bool = True, *, tick: bool = False
    ) -> None:
        self._gen = gen
        self._timed = timed
        self._tick = tick
        self._keys = sorted(gen.cls.inputs)
        self._plan = plan
        self._built: dict[str, Fused] = {}

    def __getitem__(self, key: str) -> Fused:
        fn = self._built.get(key)
        if fn is None:
            if key not in self._gen.cls.inputs:
                raise KeyError(key)
            members = self._plan.get(key, ())
            if self._tick:
                fn = self._gen.build("_tick", tick_source(self._gen, "_tick", key, members))
            else:
                fn = self._gen.build("_ingest", fused_source(self._gen, "_ingest", key, members, self._timed))
            self._built[key] = fn
        return fn

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)
