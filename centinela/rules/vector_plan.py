"""Which rules the vectorized backtest can replay exactly: decided once per twin class from the IR.

A class is vectorized when every node is a let, compute or alarm over current input values, constants,
arithmetic, comparisons and logic, and event-time windows (avg, sum, count, min, max) of ONE input path
per windowed node; alarms have no delays, latch, chattering or suppression and read no window; the
class has no `where`. Anything else is left to the engine: the decision is conservative.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from centinela.dsl.checked import CheckedClass, CheckedNode, CheckedProgram
from centinela.dsl.ir import TExpr, walk
from centinela.dsl.program import NodeKind, Program, TwinClass
from centinela.rules.vector_expr import WINDOW_METHODS, NotVectorizable, series_ops

__all__ = ["ClassPlan", "plan_program"]


@dataclass(frozen=True, slots=True)
class ClassPlan:
    """One class, checked against its compiled form, with what the replay needs to know of it."""

    position: int  # the class's place in the program (the engine binds classes in this order)
    cls: TwinClass
    checked: CheckedClass
    inputs: tuple[str, ...]  # sorted input pointers
    node_inputs: tuple[frozenset[str], ...]  # per node: the input pointers it depends on
    windowed: dict[int, str]  # node index -> the one input path its windows read
    seconds: dict[str, float]  # windowed path -> its window length

    def expr(self, index: int) -> TExpr:
        return self.checked.nodes[index].expr


def _version(node: CheckedNode) -> str:
    return hashlib.sha256(node.source.encode("utf-8")).hexdigest()[:16]


def _same(cls: TwinClass, chk: CheckedClass) -> bool:
    if len(cls.nodes) != len(chk.nodes) or set(cls.inputs) != set(chk.inputs):
        return False
    return all(
        (n.kind, n.name, n.key, n.version) == (c.kind, c.name, c.key, _version(c))
        for n, c in zip(cls.nodes, chk.nodes, strict=True)
    )


def plan_program(program: Program, checked: CheckedProgram) -> list[ClassPlan]:
    """A plan per class, or NotVectorizable naming the first rule that needs the engine."""
    plans = []
    for position, (name, cls) in enumerate(program.classes.items()):
        chk = checked.classes.get(name)
        if chk is None or not _same(cls, chk):
            msg = f"The checked rules of class {name} do not match the compiled program."
            raise NotVectorizable(msg)
        plans.append(_plan_class(position, cls, chk))
    return plans


def _plan_class(position: int, cls: TwinClass, chk: CheckedClass) -> ClassPlan:
    if chk.where is not None:
        msg = f"Class {cls.name} binds things with a `where` condition."
        raise NotVectorizable(msg)
    if any(spec.path is None for spec in cls.series):
        msg = f"Class {cls.name} keeps a derived series."
        raise NotVectorizable(msg)
    index = {n.key: i for i, n in enumerate(chk.nodes)}
    deps: list[frozenset[str]] = []
    win_paths: list[frozenset[str]] = []
    seconds: dict[str, float] = {}
    for i, node in enumerate(chk.nodes):
        if node.kind not in (NodeKind.LET, NodeKind.COMPUTE, NodeKind.ALARM):
            msg = f"Rule {node.name} of class {cls.name} is a {node.kind.value}."
            raise NotVectorizable(msg)
        inputs: set[str] = set()
        windows: set[str] = set()
        for key in node.reads:
            j = index.get(key)
            if j is None:
                if key not in chk.inputs:
                    msg = f"Rule {node.name} reads {key}, which is not vectorized."
                    raise NotVectorizable(msg)
                inputs.add(key)
            else:
                if j >= i:
                    msg = f"Rule {node.name} reads a later rule."
                    raise NotVectorizable(msg)
                inputs |= deps[j]
                windows |= win_paths[j]
        for s in series_ops(node.expr):
            method, key, params = s.value
            if method not in WINDOW_METHODS or key not in chk.inputs or len(params) != 1:
                msg = f"Rule {node.name} uses {method}(), which is not vectorized."
                raise NotVectorizable(msg)
            length = float(params[0])
            if seconds.setdefault(str(key), length) != length:
                msg = f"Path {key} is read with windows of two lengths."
                raise NotVectorizable(msg)
            windows.add(str(key))
        if windows and (len(inputs) != 1 or inputs != windows):
            msg = f"Rule {node.name} combines a window with other inputs."
            raise NotVectorizable(msg)
        if node.alarm is not None:
            _check_alarm(cls.name, node, bool(windows))
        deps.append(frozenset(inputs))
        win_paths.append(frozenset(windows))
    windowed = {i: next(iter(w)) for i, w in enumerate(win_paths) if w}
    windowed_keys = {chk.nodes[i].key for i in windowed}
    for node in chk.nodes:
        a = node.alarm
        if a is None:
            continue
        exprs = [*a.operands, *(e for e in (a.clear, a.suppress) if e is not None)]
        if any(s.op == "load" and s.value in windowed_keys for e in exprs for s in walk(e)):
            msg = f"Alarm {node.name} of class {cls.name} reads a windowed value."
            raise NotVectorizable(msg)
    lets_windowed = any(chk.nodes[i].kind is NodeKind.LET for i in windowed)
    if lets_windowed and any(n.alarm is not None and n.alarm.message is not None for n in chk.nodes):
        msg = f"Class {cls.name} renders messages with windowed lets."
        raise NotVectorizable(msg)
    return ClassPlan(
        position, cls, chk, tuple(sorted(chk.inputs)), tuple(deps), windowed, seconds
    )


def _check_alarm(cls: str, node: CheckedNode, windowed: bool) -> None:
    a = node.alarm
    assert a is not None
    if windowed or (a.clear is not None and series_ops(a.clear)):
        msg = f"Alarm {node.name} of class {cls} reads a window (timers)."
        raise NotVectorizable(msg)
    if any(series_ops(o) for o in a.operands):
        msg = f"Alarm {node.name} of class {cls} explains with a window."
        raise NotVectorizable(msg)
    if a.suppress is not None and series_ops(a.suppress):
        msg = f"Alarm {node.name} of class {cls} is suppressed by a window (timers)."
        raise NotVectorizable(msg)
