"""The output of the checks: twin classes with typed nodes in dependency order, ready to compile."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from centinela.dsl.diagnostics import Span
from centinela.dsl.ir import TExpr
from centinela.dsl.program import MissingPolicy, NodeKind, Severity, TestSpec
from centinela.dsl.units import Unit

__all__ = ["CheckedAlarm", "CheckedClass", "CheckedNode", "CheckedProgram"]


@dataclass(slots=True)
class CheckedAlarm:
    severity: Severity
    on_delay: float
    clear: TExpr | None
    off_delay: float
    latch: bool
    suppress: TExpr | None
    on_missing: MissingPolicy
    message: Callable[[Mapping[str, Any]], str] | None
    operands: tuple[TExpr, ...]
    chatter: tuple[int, float] | None
    deadband: float | None


@dataclass(slots=True)
class CheckedNode:
    kind: NodeKind
    name: str
    key: str
    expr: TExpr
    unit: Unit | None
    span: Span
    source: str
    order: int  # declaration order, for a stable topological sort
    alarm: CheckedAlarm | None = None
    reads: frozenset[str] = frozenset()


@dataclass(slots=True)
class CheckedClass:
    name: str
    definition: str | None
    id_glob: str | None
    where: TExpr | None
    span: Span
    nodes: list[CheckedNode] = field(default_factory=list)
    series: dict[str, tuple[str | None, float]] = field(default_factory=dict)  # key -> (path, horizon)
    inputs: set[str] = field(default_factory=set)


@dataclass(slots=True)
class CheckedProgram:
    namespace: str | None
    classes: dict[str, CheckedClass]
    tests: list[TestSpec]
    files: tuple[str, ...]
