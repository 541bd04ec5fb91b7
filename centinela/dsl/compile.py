"""Checked twin classes → one generated Python module per class, with triggers fused per changed key."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from centinela.dsl.checked import CheckedClass, CheckedNode, CheckedProgram
from centinela.dsl.codegen import Emitter
from centinela.dsl.functions import SERIES
from centinela.dsl.ir import TExpr, walk
from centinela.dsl.program import (
    ALL,
    TIME,
    AlarmSpec,
    EvalError,
    Node,
    NodeKind,
    Operand,
    Program,
    SeriesSpec,
    TwinClass,
)

__all__ = ["compile_checked", "compile_class"]


def compile_checked(checked: CheckedProgram) -> Program:
    classes = {name: compile_class(cls) for name, cls in checked.classes.items()}
    return Program(checked.namespace, MappingProxyType(classes), tuple(checked.tests), checked.files)


def _error_factory(nodes: list[CheckedNode]) -> Callable[[int, BaseException], EvalError]:
    names = [n.name for n in nodes]

    def make(index: int, exc: BaseException) -> EvalError:
        return EvalError(names[index], f"{type(exc).__name__}: {exc}")

    return make


class _ClassGen:
    def __init__(self, cls: CheckedClass) -> None:
        self.cls = cls
        self.em = Emitter()
        self.lines: list[str] = []
        self.index = {n.key: i for i, n in enumerate(cls.nodes)}

    def _series_locals(self, exprs: list[TExpr], extra: set[str]) -> dict[str, str]:
        keys = sorted({str(s.value[1]) for e in exprs for s in walk(e) if s.op == "series"} | extra)
        return {k: f"_S{i}" for i, k in enumerate(keys)}

    def function(self, name: str, body_exprs: list[TExpr], ret: Callable[[list[str]], str]) -> None:
        """A function of ctx evaluating `body_exprs` from ctx.values (node fns, clear, suppress, explain)."""
        loads = sorted({str(s.value) for e in body_exprs for s in walk(e) if s.op == "load"})
        env = {k: f"_l{i}" for i, k in enumerate(loads)}
        series = self._series_locals(body_exprs, set())
        codes = [self.em.expr(e, env, series) for e in body_exprs]
        self._header(name, env, series, body_exprs)
        self.lines.append(f"    return {ret(codes)}")

    def _header(
        self, name: str, env: dict[str, str], series: dict[str, str], exprs: list[TExpr], fed: bool = False
    ) -> None:
        self.lines.append(f"def {name}(ctx):")
        self.lines.append("    v = ctx.values")
        if fed or any(s.op == "series" and SERIES[s.value[0]].timed for e in exprs for s in walk(e)):
            self.lines.append("    now = ctx.now")
        for key, local in env.items():
            self.lines.append(f"    {local} = v.get({key!r}, M)")
        for key, local in series.items():
            self.lines.append(f"    {local} = ctx.series({key!r})")

    def trigger(self, name: str, members: list[int]) -> None:
        """One fused function evaluating `members` (node indices, in order) with values kept in locals."""
        nodes = self.cls.nodes
        produced = {nodes[i].key: f"_n{i}" for i in members}
        exprs = [e for i in members for e in [nodes[i].expr]]
        loads = sorted({str(s.value) for e in exprs for s in walk(e) if s.op == "load"} - set(produced))
        env = {k: f"_l{j}" for j, k in enumerate(loads)}
        fed = {nodes[i].key for i in members if nodes[i].key in self.cls.series}
        series = self._series_locals(exprs, fed)
        self._header(name, env, series, exprs, bool(fed))
        self.lines.append("    out = []")
        for i in members:
            node = nodes[i]
            local = produced[node.key]
            code = self.em.expr(node.expr, {**env, **{k: produced[k] for k in produced}}, series)
            self.lines += [
                "    try:",
                f"        {local} = {code}",
                "    except Exception as _e:",
                f"        out.append(({i}, _err({i}, _e)))",
                f"        {local} = M",
                "    else:",
                f"        out.append(({i}, {local}))",
                f"    if {local} is M:",
                f"        v.pop({node.key!r}, None)",
                "    else:",
                f"        v[{node.key!r}] = {local}",
            ]
            if node.key in series:
                self.lines.append(f"        {series[node.key]}.append(now, {local})")
        self.lines.append("    return out")


def _closure(nodes: list[CheckedNode], start: set[int], dependents: dict[int, set[int]]) -> list[int]:
    seen = set(start)
    todo = list(start)
    while todo:
        i = todo.pop()
        for d in dependents.get(i, ()):
            if d not in seen:
                seen.add(d)
                todo.append(d)
    return sorted(seen)


def compile_class(cls: CheckedClass) -> TwinClass:
    """Generate, compile once and bind the module of one twin class."""
    gen = _ClassGen(cls)
    nodes = cls.nodes
    index = gen.index
    dependents: dict[int, set[int]] = {}
    readers: dict[str, set[int]] = {}
    for i, n in enumerate(nodes):
        for key in n.reads:
            readers.setdefault(key, set()).add(i)
            if key in index:
                dependents.setdefault(index[key], set()).add(i)
    timed = {
        i for i, n in enumerate(nodes) for s in walk(n.expr) if s.op == "series" and SERIES[s.value[0]].timed
    }
    sets: dict[tuple[int, ...], str] = {}
    trigger_of: dict[str, str] = {}
    wanted = {key: {i for i in ids} for key, ids in readers.items() if key not in index}
    wanted[ALL] = set(range(len(nodes)))
    wanted[TIME] = timed
    for key, start in sorted(wanted.items()):
        members = tuple(_closure(nodes, start, dependents)) if key != ALL else tuple(range(len(nodes)))
        fname = sets.get(members)
        if fname is None:
            fname = f"_trigger{len(sets)}"
            sets[members] = fname
            gen.trigger(fname, list(members))
        trigger_of[key] = fname
    for i, n in enumerate(nodes):
        gen.function(f"_node{i}", [n.expr], lambda c: c[0])
        if n.alarm is not None:
            a = n.alarm
            if a.clear is not None:
                gen.function(f"_clear{i}", [a.clear], lambda c: c[0])
            if a.suppress is not None:
                gen.function(f"_suppress{i}", [a.suppress], lambda c: c[0])
            ops = list(a.operands)
            texts = [repr(o.text) for o in ops]
            units = [repr(o.unit.text) if o.unit else "None" for o in ops]
            gen.function(f"_explain{i}", ops, _explain_source(texts, units))
    if cls.where is not None:
        gen.function("_where", [cls.where], lambda c: c[0])
    consts = dict(gen.em.consts)
    consts["_err"] = _error_factory(nodes)
    consts["_Operand"] = Operand
    consts["Exception"] = Exception
    source = _module_source(gen.lines, consts)
    namespace: dict[str, Any] = {"__builtins__": {}}
    exec(compile(source, f"<rules {cls.name}>", "exec"), {"__builtins__": {}, "_consts": consts}, namespace)  # noqa: S102 - source generated from the checked tree only
    built = namespace["_build"]()
    return _assemble(cls, built, trigger_of, sorted(timed), source)


def _module_source(lines: list[str], consts: Mapping[str, Any]) -> str:
    """Wrap the functions in `_build()`, binding every constant as a local of the enclosing scope."""
    head = ["def _build():"]
    head += [f"    {name} = _consts[{name!r}]" for name in consts]
    body = ["    " + line if line else line for line in lines]
    names = [line[4:].split("(")[0] for line in lines if line.startswith("def ")]
    tail = ["    return {" + ", ".join(f"{n!r}: {n}" for n in names) + "}"]
    return "\n".join(head + body + tail) + "\n"


def _explain_source(texts: list[str], units: list[str]) -> Callable[[list[str]], str]:
    def build(codes: list[str]) -> str:
        items = "".join(f"_Operand({t}, {c}, {u}), " for t, c, u in zip(texts, codes, units, strict=True))
        return f"({items})"

    return build


def _version(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _assemble(
    cls: CheckedClass, built: dict[str, Any], trigger_of: dict[str, str], timed: list[int], source: str
) -> TwinClass:
    nodes = []
    for i, n in enumerate(cls.nodes):
        spec = None
        if n.alarm is not None:
            a = n.alarm
            spec = AlarmSpec(
                a.severity,
                a.on_delay,
                built.get(f"_clear{i}"),
                a.off_delay,
                a.latch,
                built.get(f"_suppress{i}"),
                a.on_missing,
                a.message,
                built[f"_explain{i}"],
                a.chatter,
                a.deadband,
            )
        nodes.append(
            Node(
                n.kind,
                n.name,
                n.key,
                n.reads,
                built[f"_node{i}"],
                n.unit.text if n.unit else None,
                n.span,
                _version(n.source),
                spec,
            )
        )
    series = tuple(SeriesSpec(k, p, h) for k, (p, h) in sorted(cls.series.items()))
    triggers = MappingProxyType({k: built[f] for k, f in trigger_of.items()})
    return TwinClass(
        cls.name,
        cls.definition,
        cls.id_glob,
        built.get("_where"),
        tuple(nodes),
        series,
        frozenset(cls.inputs),
        triggers,
        tuple(timed),
        MappingProxyType({"module": source}),
    )


_ = NodeKind  # re-exported kinds are part of the compiled nodes
