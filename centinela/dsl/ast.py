"""The `.rules` syntax tree: frozen, slotted dataclasses, each carrying its source span."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from centinela.dsl.diagnostics import Span

__all__ = [
    "AlarmDecl",
    "Binary",
    "Bool",
    "Call",
    "Clause",
    "ComputeDecl",
    "Decl",
    "Duration",
    "Expr",
    "If",
    "In",
    "LetDecl",
    "Missing",
    "Module",
    "NamespaceDecl",
    "Num",
    "Path",
    "Str",
    "TestDecl",
    "TestStepAst",
    "TwinsDecl",
    "Unary",
    "UnitEntry",
    "UnitsDecl",
    "dump",
]


# ---------------------------------------------------------------- expressions
@dataclass(frozen=True, slots=True)
class Num:
    value: float
    unit: str | None
    span: Span


@dataclass(frozen=True, slots=True)
class Duration:
    """A duration literal (`30s`, `5m`), already in seconds."""

    seconds: float
    text: str
    span: Span


@dataclass(frozen=True, slots=True)
class Str:
    value: str
    span: Span


@dataclass(frozen=True, slots=True)
class Bool:
    value: bool
    span: Span


@dataclass(frozen=True, slots=True)
class Missing:
    span: Span


@dataclass(frozen=True, slots=True)
class Path:
    """`feature.property[.sub]`, `attributes.a.b`, `desired.f.p`, `thing.id`, a let name, or a pointer."""

    segments: tuple[str, ...]
    pointer: str | None
    span: Span

    @property
    def text(self) -> str:
        return f"`{self.pointer}`" if self.pointer is not None else ".".join(self.segments)


@dataclass(frozen=True, slots=True)
class Unary:
    op: str  # "-" | "not"
    operand: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Binary:
    op: str  # + - * / % ** == != < <= > >= and or ??
    left: Expr
    right: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class If:
    cond: Expr
    then: Expr
    orelse: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class In:
    value: Expr
    options: tuple[Expr, ...]
    negated: bool
    span: Span


@dataclass(frozen=True, slots=True)
class Call:
    name: str
    args: tuple[Expr, ...]
    span: Span
    name_span: Span


Expr = Num | Duration | Str | Bool | Missing | Path | Unary | Binary | If | In | Call


# ---------------------------------------------------------------- declarations
@dataclass(frozen=True, slots=True)
class NamespaceDecl:
    name: str
    span: Span


@dataclass(frozen=True, slots=True)
class TwinsDecl:
    name: str
    definition: str | None
    id_glob: str | None
    where: Expr | None
    span: Span


@dataclass(frozen=True, slots=True)
class UnitEntry:
    paths: tuple[Path, ...]
    unit: str
    unit_span: Span


@dataclass(frozen=True, slots=True)
class UnitsDecl:
    twin_class: str
    entries: tuple[UnitEntry, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class LetDecl:
    twin_class: str
    name: str
    expr: Expr
    span: Span
    source: str


@dataclass(frozen=True, slots=True)
class ComputeDecl:
    twin_class: str
    path: Path
    unit: str | None
    unit_span: Span | None
    expr: Expr
    span: Span
    source: str


@dataclass(frozen=True, slots=True)
class Clause:
    """One alarm clause as written.

    `kind` is severity, when, clear, deadband, latch, suppress, on_missing, message or chatter; `text`
    holds the severity, policy or template, `seconds` a `for`/`in` duration.
    """

    kind: str
    span: Span
    expr: Expr | None = None
    text: str | None = None
    seconds: float | None = None
    count: float | None = None
    text_span: Span | None = None


@dataclass(frozen=True, slots=True)
class AlarmDecl:
    """An alarm rule; `clauses` keeps every clause as written so duplicates can be reported."""

    twin_class: str
    name: str
    clauses: tuple[Clause, ...]
    span: Span
    name_span: Span
    source: str

    def clause(self, kind: str) -> Clause | None:
        for c in self.clauses:
            if c.kind == kind:
                return c
        return None


@dataclass(frozen=True, slots=True)
class TestStepAst:
    at: float
    kind: str  # set | expect_value | expect_alarm | ack | shelve | unshelve
    path: Path | None
    name: str | None
    value: Any
    unit: str | None
    tolerance: float | None
    duration: float | None
    span: Span


@dataclass(frozen=True, slots=True)
class TestDecl:
    __test__ = False

    name: str
    twin_class: str
    thing_id: str | None
    attributes: dict[str, Any] | None
    steps: tuple[TestStepAst, ...]
    span: Span
    class_span: Span


Decl = NamespaceDecl | TwinsDecl | UnitsDecl | LetDecl | ComputeDecl | AlarmDecl | TestDecl


@dataclass(frozen=True, slots=True)
class Module:
    file: str
    decls: tuple[Decl, ...]


def dump(node: object, indent: int = 0) -> str:
    """A stable, readable text form of a tree (golden files); spans print as `@line:col`."""
    pad = "  " * indent
    if isinstance(node, Span):
        return f"{pad}@{node.line}:{node.column}-{node.end_line}:{node.end_column}"
    if isinstance(node, tuple):
        if not node:
            return f"{pad}()"
        return "\n".join(dump(item, indent) for item in node)
    if hasattr(node, "__dataclass_fields__"):
        span = getattr(node, "span", None)
        head = f"{pad}{type(node).__name__}"
        if isinstance(span, Span):
            head += f" @{span.line}:{span.column}"
        lines = [head]
        for f in fields(node):  # type: ignore[arg-type]
            if f.name in {"span", "source", "name_span", "unit_span", "class_span", "text_span"}:
                continue
            value = getattr(node, f.name)
            if hasattr(value, "__dataclass_fields__") or (
                isinstance(value, tuple) and value and not isinstance(value[0], (str, int, float))
            ):
                lines.append(f"{pad}  {f.name}:")
                lines.append(dump(value, indent + 2))
            else:
                lines.append(f"{pad}  {f.name}: {_scalar(value)}")
        return "\n".join(lines)
    return f"{pad}{_scalar(node)}"


def _scalar(value: object) -> str:
    return repr(value)
