"""Checked twin classes → generated Python, one fused function per changed key, compiled on first use.

Code generation is planned for the whole class at once (dependency closure per key), but each function's
source is generated and compiled the first time it is used, then kept: checking and loading 10,000 rules
costs no Python compilation, and a trigger is compiled once for the life of the program.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType
from typing import Any

from centinela.dsl.checked import CheckedClass, CheckedProgram
from centinela.dsl.codegen import Emitter
from centinela.dsl.functions import SERIES
from centinela.dsl.fuse import FusedMap, member_lines
from centinela.dsl.gcpause import gc_paused
from centinela.dsl.ir import TExpr, walk
from centinela.dsl.program import (
    ALL,
    TIME,
    AlarmSpec,
    EvalError,
    Node,
    Operand,
    Program,
    SeriesSpec,
    TwinClass,
)

__all__ = ["compile_checked", "compile_class"]

Fn = Callable[[Any], Any]


def compile_checked(checked: CheckedProgram, eager: bool = False) -> Program:
    """The Program of checked classes; `eager` compiles every function now (tests, ahead-of-time checks)."""
    with gc_paused():
        classes = {name: compile_class(cls, eager) for name, cls in checked.classes.items()}
    return Program(checked.namespace, MappingProxyType(classes), tuple(checked.tests), checked.files)


class _Lazy:
    """A function generated and compiled on its first call, then called directly."""

    __slots__ = ("_fn", "_make")

    def __init__(self, make: Callable[[], Fn]) -> None:
        self._make = make
        self._fn: Fn | None = None

    def build(self) -> Fn:
        if self._fn is None:
            self._fn = self._make()
        return self._fn

    def __call__(self, ctx: Any) -> Any:
        fn = self._fn
        if fn is None:
            fn = self.build()
        return fn(ctx)


class _Triggers(Mapping[str, Fn]):
    """Changed key → fused trigger; keys sharing one set of dependent nodes share one function."""

    def __init__(self, gen: _ClassGen, plan: dict[str, tuple[int, ...]]) -> None:
        self._gen = gen
        self._plan = plan
        self._built: dict[tuple[int, ...], Fn] = {}

    def __getitem__(self, key: str) -> Fn:
        members = self._plan[key]
        fn = self._built.get(members)
        if fn is None:
            fn = self._built[members] = self._gen.build("_trigger", self._gen.trigger("_trigger", members))
        return fn

    def __iter__(self) -> Iterator[str]:
        return iter(self._plan)

    def __len__(self) -> int:
        return len(self._plan)


class _ClassGen:
    """Generates the functions of one class; every identifier is generated, every string a repr."""

    def __init__(self, cls: CheckedClass) -> None:
        self.cls = cls
        self.em = Emitter()
        self.em.consts["_Operand"] = _operand
        self.em.consts["Exception"] = Exception
        names = [n.name for n in cls.nodes]

        def err(index: int, exc: BaseException) -> EvalError:
            return EvalError(names[index], f"{type(exc).__name__}: {exc}")

        self.em.consts["_err"] = err
        self.em.consts["_nonfinite"] = _nonfinite

    def build(self, name: str, lines: list[str]) -> Fn:
        """Compile `lines` (one function named `name`) with the class constants bound as closure cells."""
        source = _module_source(lines, self.em.consts)
        namespace: dict[str, Any] = {}
        code = compile(source, f"<rules {self.cls.name}:{name}>", "exec")
        exec(code, {"__builtins__": {}, "_consts": dict(self.em.consts)}, namespace)  # noqa: S102 - generated from the checked tree only
        fn: Fn = namespace["_build"]()[name]
        return fn

    def _series_locals(self, exprs: list[TExpr], extra: set[str]) -> dict[str, str]:
        keys = sorted({str(s.value[1]) for e in exprs for s in walk(e) if s.op == "series"} | extra)
        return {k: f"_S{i}" for i, k in enumerate(keys)}

    def _header(
        self, name: str, env: dict[str, str], series: dict[str, str], exprs: list[TExpr], fed: bool = False
    ) -> list[str]:
        lines = [f"def {name}(ctx):", "    v = ctx.values"]
        if fed or any(s.op == "series" and SERIES[s.value[0]].timed for e in exprs for s in walk(e)):
            lines.append("    now = ctx.now")
        lines += [f"    {local} = v.get({key!r}, M)" for key, local in env.items()]
        lines += [f"    {local} = ctx.series({key!r})" for key, local in series.items()]
        return lines

    def function(self, name: str, exprs: list[TExpr], ret: Callable[[list[str]], str]) -> list[str]:
        """A function of ctx evaluating `exprs` from ctx.values (node value, clear, suppress, explain)."""
        loads = sorted({str(s.value) for e in exprs for s in walk(e) if s.op == "load"})
        env = {k: f"_l{i}" for i, k in enumerate(loads)}
        series = self._series_locals(exprs, set())
        codes = [self.em.expr(e, env, series) for e in exprs]
        return [*self._header(name, env, series, exprs), f"    return {ret(codes)}"]

    def trigger(self, name: str, members: tuple[int, ...]) -> list[str]:
        """One fused function evaluating `members` (node indices, in order) with values kept in locals."""
        nodes = self.cls.nodes
        produced = {nodes[i].key: f"_n{i}" for i in members}
        exprs = [nodes[i].expr for i in members]
        loads = sorted({str(s.value) for e in exprs for s in walk(e) if s.op == "load"} - set(produced))
        env = {k: f"_l{j}" for j, k in enumerate(loads)}
        fed = {nodes[i].key for i in members if nodes[i].key in self.cls.series}
        series = self._series_locals(exprs, fed)
        lines = [*self._header(name, env, series, exprs, bool(fed)), "    out = []"]
        env.update(produced)
        for i in members:
            node = nodes[i]
            local = produced[node.key]
            code = self.em.expr(node.expr, env, series)
            kept = ["    else:", f"        out.append(({i}, {local}))"]
            feeds = series[node.key] if node.key in series else None
            lines += member_lines(node, local, code, f"out.append(({i}, _err({i}, _e)))", kept, feeds)
        lines.append("    return out")
        return lines

    def lazy(self, name: str, exprs: list[TExpr], ret: Callable[[list[str]], str]) -> _Lazy:
        return _Lazy(lambda: self.build(name, self.function(name, exprs, ret)))


def _nonfinite(value: float) -> ValueError:
    return ValueError(f"The computed value {value} is not a finite number.")


def _closure(start: set[int], dependents: dict[int, set[int]]) -> tuple[int, ...]:
    seen = set(start)
    todo = list(start)
    while todo:
        for d in dependents.get(todo.pop(), ()):
            if d not in seen:
                seen.add(d)
                todo.append(d)
    return tuple(sorted(seen))


def _plan(cls: CheckedClass) -> tuple[dict[str, tuple[int, ...]], list[int]]:
    """Changed key → node indices to evaluate (in order), and the nodes that change with time alone."""
    nodes = cls.nodes
    index = {n.key: i for i, n in enumerate(nodes)}
    dependents: dict[int, set[int]] = {}
    readers: dict[str, set[int]] = {}
    for i, n in enumerate(nodes):
        for key in n.reads:
            readers.setdefault(key, set()).add(i)
            if key in index:
                dependents.setdefault(index[key], set()).add(i)
    timed = sorted(
        {
            i
            for i, n in enumerate(nodes)
            for s in walk(n.expr)
            if s.op == "series" and SERIES[s.value[0]].timed
        }
    )
    plan = {key: _closure(ids, dependents) for key, ids in sorted(readers.items()) if key not in index}
    plan[ALL] = tuple(range(len(nodes)))
    plan[TIME] = _closure(set(timed), dependents)
    return plan, timed


def compile_class(cls: CheckedClass, eager: bool = False) -> TwinClass:
    """Plan the functions of one twin class; each is generated and compiled once, on first use."""
    gen = _ClassGen(cls)
    plan, timed = _plan(cls)
    triggers = _Triggers(gen, plan)
    fused = FusedMap(gen, plan, bool(timed))
    ticks = FusedMap(gen, plan, tick=True)
    ret0: Callable[[list[str]], str] = _first
    nodes = []
    lazies: list[_Lazy] = []
    for i, n in enumerate(cls.nodes):
        fn = gen.lazy(f"_node{i}", [n.expr], ret0)
        lazies.append(fn)
        spec = None
        if n.alarm is not None:
            a = n.alarm
            clear = gen.lazy(f"_clear{i}", [a.clear], ret0) if a.clear is not None else None
            suppress = gen.lazy(f"_suppress{i}", [a.suppress], ret0) if a.suppress is not None else None
            ops = list(a.operands)
            texts = [repr(o.text) for o in ops]
            units = [repr(o.unit.text) if o.unit else "None" for o in ops]
            explain = gen.lazy(f"_explain{i}", ops, _explain_source(texts, units))
            lazies += [x for x in (clear, suppress, explain) if x is not None]
            spec = AlarmSpec(
                a.severity, a.on_delay, clear, a.off_delay, a.latch, suppress, a.on_missing, a.message,
                explain, a.chatter, a.deadband,
            )  # fmt: skip
        unit = n.unit.text if n.unit else None
        nodes.append(Node(n.kind, n.name, n.key, n.reads, fn, unit, n.span, _version(n.source), spec))
    where = gen.lazy("_where", [cls.where], ret0) if cls.where is not None else None
    if where is not None:
        lazies.append(where)
    if eager:
        for lazy in lazies:
            lazy.build()
        for key in triggers:
            triggers[key]
        for key in fused:
            fused[key]
            ticks[key]
    series = tuple(SeriesSpec(k, p, h) for k, (p, h) in sorted(cls.series.items()))
    return TwinClass(
        cls.name, cls.definition, cls.id_glob, where, tuple(nodes), series, frozenset(cls.inputs), triggers,
        tuple(timed), _Source(gen, plan), fused,
        frozenset(str(s.value) for s in walk(cls.where) if s.op == "load") if cls.where else frozenset(),
        ticks,
    )  # fmt: skip


_new = object.__new__
_o_text, _o_value, _o_unit = (Operand.__dict__[name].__set__ for name in ("text", "value", "unit"))


def _operand(text: str, value: Any, unit: str | None) -> Operand:
    """`Operand(text, value, unit)` filled through the slots' own setters (a frozen `__init__` is slower)."""
    n = _new(Operand)
    _o_text(n, text)
    _o_value(n, value)
    _o_unit(n, unit)
    return n


def _first(codes: list[str]) -> str:
    return codes[0]


class _Source(Mapping[str, str]):
    """`source["module"]`: the generated Python of every trigger of the class (for review and tests)."""

    def __init__(self, gen: _ClassGen, plan: dict[str, tuple[int, ...]]) -> None:
        self._gen, self._plan = gen, plan

    def __getitem__(self, key: str) -> str:
        if key != "module":
            raise KeyError(key)
        lines: list[str] = []
        seen: dict[tuple[int, ...], str] = {}
        for k, members in self._plan.items():
            if members not in seen:
                seen[members] = f"_trigger{len(seen)}"
                lines.append(f"# trigger for {k!r}")
                lines += self._gen.trigger(seen[members], members)
        return "\n".join(lines) + "\n"

    def __iter__(self) -> Iterator[str]:
        return iter(("module",))

    def __len__(self) -> int:
        return 1


def _module_source(lines: list[str], consts: Mapping[str, Any]) -> str:
    """Wrap a function in `_build()`, binding every constant as a local of the enclosing scope."""
    head = ["def _build():"]
    head += [f"    {name} = _consts[{name!r}]" for name in consts]
    body = ["    " + line for line in lines]
    name = lines[0][4:].split("(")[0]
    return "\n".join([*head, *body, f"    return {{{name!r}: {name}}}"]) + "\n"


def _explain_source(texts: list[str], units: list[str]) -> Callable[[list[str]], str]:
    def build(codes: list[str]) -> str:
        items = "".join(f"_Operand({t}, {c}, {u}), " for t, c, u in zip(texts, codes, units, strict=True))
        return f"({items})"

    return build


def _version(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


