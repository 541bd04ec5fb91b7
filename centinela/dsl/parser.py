"""Text → syntax tree: the Lark LALR parser and its Transformer; Lark trees never leave this module."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources
from typing import Any

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import (
    LarkError,
    UnexpectedInput,
    VisitError,
)

from centinela.dsl import ast
from centinela.dsl.diagnostics import Diagnostic, Span
from centinela.dsl.gcpause import gc_paused
from centinela.dsl.syntax_errors import syntax_diagnostic

__all__ = ["DURATION_UNITS", "ParseResult", "parse"]

DURATION_UNITS: dict[str, float] = {
    "ms": 0.001, "s": 1.0, "sec": 1.0, "second": 1.0, "seconds": 1.0,
    "m": 60.0, "min": 60.0, "minute": 60.0, "minutes": 60.0,
    "h": 3600.0, "hr": 3600.0, "hour": 3600.0, "hours": 3600.0,
    "d": 86400.0, "day": 86400.0, "days": 86400.0, "w": 604800.0, "week": 604800.0, "weeks": 604800.0,
}  # fmt: skip
_DECL_START = re.compile(r"^(namespace|twins|units|let|compute|alarm|test)\b", re.MULTILINE)


class ParseResult:
    """The syntax tree of one file, plus every syntax diagnostic found (the tree keeps what parsed)."""

    __slots__ = ("diagnostics", "module", "source")

    def __init__(self, module: ast.Module, diagnostics: list[Diagnostic], source: str) -> None:
        self.module = module
        self.diagnostics = diagnostics
        self.source = source


@lru_cache(maxsize=1)
def _lark() -> Lark:
    grammar = resources.files("centinela.dsl").joinpath("rules.lark").read_text(encoding="utf-8")
    return Lark(
        grammar, parser="lalr", lexer="contextual", propagate_positions=True, maybe_placeholders=False
    )


def parse(text: str, filename: str = "<string>") -> ParseResult:
    """Parse `.rules` text; never raises: every problem becomes a diagnostic."""
    with gc_paused():
        return _parse(text, filename)


def _parse(text: str, filename: str) -> ParseResult:
    diagnostics: list[Diagnostic] = []
    decls: list[ast.Decl] = []
    chunks = _chunks(text)
    try:
        decls.extend(_parse_chunk(text, filename, diagnostics))
    except _ChunkFailed:
        # Recover: parse each top-level declaration on its own so every broken one is reported.
        decls.clear()
        diagnostics.clear()
        for start, end in chunks:
            piece = "\n" * text.count("\n", 0, start) + " " * (start - text.rfind("\n", 0, start) - 1)
            try:
                decls.extend(_parse_chunk(piece + text[start:end], filename, diagnostics))
            except _ChunkFailed:
                continue
    return ParseResult(ast.Module(filename, tuple(decls)), diagnostics, text)


class _ChunkFailed(Exception):
    pass


def _chunks(text: str) -> list[tuple[int, int]]:
    starts = [m.start() for m in _DECL_START.finditer(text)]
    if not starts or starts[0] != 0:
        starts.insert(0, 0)
    return [(s, starts[i + 1] if i + 1 < len(starts) else len(text)) for i, s in enumerate(starts)]


def _parse_chunk(text: str, filename: str, diagnostics: list[Diagnostic]) -> list[ast.Decl]:
    try:
        tree = _lark().parse(text)
    except UnexpectedInput as exc:
        diagnostics.append(syntax_diagnostic(exc, text, filename, _lark()))
        raise _ChunkFailed from None
    except RecursionError:
        diagnostics.append(_too_deep(text, filename))
        raise _ChunkFailed from None
    except LarkError as exc:  # pragma: no cover - defensive: UnexpectedInput covers the grammar
        diagnostics.append(Diagnostic("E001", f"The text cannot be parsed: {exc}.", _start(text, filename)))
        raise _ChunkFailed from None
    builder = _Builder(filename, text, diagnostics)
    try:
        module = builder.transform(tree)
    except (RecursionError, VisitError) as exc:
        if isinstance(exc, RecursionError) or isinstance(exc.orig_exc, RecursionError):
            diagnostics.append(_too_deep(text, filename))
        else:  # pragma: no cover - defensive: the builder is total
            msg = f"The declarations cannot be read: {exc}."
            diagnostics.append(Diagnostic("E001", msg, _start(text, filename)))
        raise _ChunkFailed from None
    return list(module)


def _start(text: str, filename: str) -> Span:
    """The span of the first character of `text` that is not blank (a declaration's keyword)."""
    i = len(text) - len(text.lstrip())
    line = text.count("\n", 0, i) + 1
    column = i - text.rfind("\n", 0, i)
    return Span(filename, line, column, line, column + 1)


def _too_deep(text: str, filename: str) -> Diagnostic:
    return Diagnostic(
        "E025",
        "The declaration nests too deeply to be read.",
        _start(text, filename),
        "split long expressions into lets or computes",
    )


def _span_of(filename: str, item: Any) -> Span:
    if isinstance(item, Token):
        return Span(filename, item.line or 1, item.column or 1, item.end_line or 1, item.end_column or 1)
    meta = item
    return Span(filename, meta.line, meta.column, meta.end_line, meta.end_column)


@v_args(meta=True)
class _Builder(Transformer[Token, Any]):
    """Builds `ast` nodes; unusable literals become diagnostics instead of exceptions."""

    def __init__(self, filename: str, text: str, diagnostics: list[Diagnostic]) -> None:
        super().__init__()
        self.filename = filename
        self.text = text
        self.diagnostics = diagnostics
        self._offsets = [0]
        for i, ch in enumerate(text):
            if ch == "\n":
                self._offsets.append(i + 1)

    def _span(self, item: Any) -> Span:
        return _span_of(self.filename, item)

    def _source(self, meta: Any) -> str:
        start = self._offsets[meta.line - 1] + meta.column - 1
        end = self._offsets[meta.end_line - 1] + meta.end_column - 1
        return self.text[start:end]

    def _error(self, code: str, message: str, item: Any, hint: str | None = None) -> None:
        self.diagnostics.append(Diagnostic(code, message, self._span(item), hint))

    def _string(self, tok: Token) -> str:
        try:
            value = json.loads(str(tok))
        except ValueError:
            self._error(
                "E004",
                f"The string {tok!s} has an invalid escape sequence.",
                tok,
                'use JSON escapes such as \\n, \\" or \\u00b0',
            )
            return str(tok)[1:-1]
        return str(value)

    def _number(self, tok: Token) -> float:
        return float(str(tok))

    def _seconds(self, number: Token, unit: Token) -> float:
        factor = DURATION_UNITS.get(str(unit))
        if factor is None:
            self._error(
                "E005",
                f"The unit {unit!s} is not a unit of time.",
                unit,
                "write durations as 30s, 5m, 1h, 2d or `5 min`",
            )
            return 0.0
        return self._number(number) * factor

    # -------------------------------------------------------------- top level
    def start(self, meta: Any, children: list[Any]) -> list[Any]:
        return children

    def namespace_decl(self, meta: Any, children: list[Any]) -> ast.NamespaceDecl:
        return ast.NamespaceDecl(children[0], self._span(meta))

    def dotted(self, meta: Any, children: list[Token]) -> str:
        return ".".join(str(c) for c in children)

    def sel_definition(self, meta: Any, children: list[Token]) -> tuple[str, str]:
        return ("definition", self._string(children[0]))

    def sel_things(self, meta: Any, children: list[Token]) -> tuple[str, str]:
        return ("things", self._string(children[0]))

    def twins_decl(self, meta: Any, children: list[Any]) -> ast.TwinsDecl:
        name, (kind, glob) = str(children[0]), children[1]
        where = children[2] if len(children) > 2 else None
        return ast.TwinsDecl(
            name,
            glob if kind == "definition" else None,
            glob if kind == "things" else None,
            where,
            self._span(meta),
        )

    def unit_entry(self, meta: Any, children: list[Any]) -> ast.UnitEntry:
        unit = children[-1]
        return ast.UnitEntry(tuple(children[:-1]), str(unit).strip(), self._span(unit))

    def units_decl(self, meta: Any, children: list[Any]) -> ast.UnitsDecl:
        return ast.UnitsDecl(str(children[0]), tuple(children[1:]), self._span(children[0]))

    def let_decl(self, meta: Any, children: list[Any]) -> ast.LetDecl:
        return ast.LetDecl(
            str(children[0]), str(children[1]), children[2], self._span(children[1]), self._source(meta)
        )

    def compute_decl(self, meta: Any, children: list[Any]) -> ast.ComputeDecl:
        cls, path = str(children[0]), children[1]
        unit = children[2] if len(children) == 4 else None
        return ast.ComputeDecl(
            cls,
            path,
            str(unit) if unit is not None else None,
            self._span(unit) if unit is not None else None,
            children[-1],
            path.span,
            self._source(meta),
        )

    def alarm_decl(self, meta: Any, children: list[Any]) -> ast.AlarmDecl:
        return ast.AlarmDecl(
            str(children[0]),
            str(children[1]),
            tuple(children[2:]),
            self._span(meta),
            self._span(children[1]),
            self._source(meta),
        )

    # -------------------------------------------------------------- alarm clauses
    def c_severity(self, meta: Any, c: list[Any]) -> ast.Clause:
        return ast.Clause("severity", self._span(meta), text=str(c[0]), text_span=self._span(c[0]))

    def c_when(self, meta: Any, c: list[Any]) -> ast.Clause:
        return ast.Clause("when", self._span(meta), expr=c[0], seconds=c[1].seconds if len(c) > 1 else None)

    def c_clear(self, meta: Any, c: list[Any]) -> ast.Clause:
        return ast.Clause("clear", self._span(meta), expr=c[0], seconds=c[1].seconds if len(c) > 1 else None)

    def c_deadband(self, meta: Any, c: list[Any]) -> ast.Clause:
        return ast.Clause("deadband", self._span(meta), expr=c[0])

    def c_latch(self, meta: Any, c: list[Any]) -> ast.Clause:
        return ast.Clause("latch", self._span(meta))

    def c_suppress(self, meta: Any, c: list[Any]) -> ast.Clause:
        return ast.Clause("suppress", self._span(meta), expr=c[0])

    def c_on_missing(self, meta: Any, c: list[Any]) -> ast.Clause:
        return ast.Clause("on_missing", self._span(meta), text=str(c[0]), text_span=self._span(c[0]))

    def c_message(self, meta: Any, c: list[Any]) -> ast.Clause:
        return ast.Clause("message", self._span(meta), text=self._string(c[0]), text_span=self._span(c[0]))

    def c_chatter(self, meta: Any, c: list[Any]) -> ast.Clause:
        return ast.Clause("chatter", self._span(meta), count=self._number(c[0]), seconds=c[1].seconds)

    # -------------------------------------------------------------- tests
    def test_decl(self, meta: Any, c: list[Any]) -> ast.TestDecl:
        thing: str | None = None
        attributes: dict[str, Any] | None = None
        steps: list[ast.TestStepAst] = []
        for kind, payload in c[2:]:
            if kind == "thing":
                thing = payload
            elif kind == "attributes":
                attributes = payload
            else:
                steps.extend(payload)
        return ast.TestDecl(
            self._string(c[0]), str(c[1]), thing, attributes, tuple(steps), self._span(meta), self._span(c[1])
        )

    def t_thing(self, meta: Any, c: list[Any]) -> tuple[str, Any]:
        return ("thing", self._string(c[0]))

    def t_attributes(self, meta: Any, c: list[Any]) -> tuple[str, Any]:
        return ("attributes", c[0])

    def t_at(self, meta: Any, c: list[Any]) -> tuple[str, Any]:
        at = c[0].seconds
        steps: list[ast.TestStepAst] = []
        for make in c[1:]:
            steps.extend(make(at))
        return ("steps", steps)

    def assign(self, meta: Any, c: list[Any]) -> tuple[ast.Path, Any, str | None, Span]:
        value, unit = c[1]
        return (c[0], value, unit, self._span(meta))

    def s_set(self, meta: Any, c: list[Any]) -> Any:
        return lambda at: [
            ast.TestStepAst(at, "set", path, None, value, unit, None, None, span)
            for path, value, unit, span in c
        ]

    def s_expect_value(self, meta: Any, c: list[Any]) -> Any:
        c = [x for x in c if not isinstance(x, Token)]
        value, unit = c[1]
        tol = c[2][0] if len(c) > 2 else None
        span = self._span(meta)
        return lambda at: [ast.TestStepAst(at, "expect_value", c[0], None, value, unit, tol, None, span)]

    def s_expect_alarm(self, meta: Any, c: list[Any]) -> Any:
        span = self._span(meta)
        return lambda at: [
            ast.TestStepAst(at, "expect_alarm", None, str(c[0]), str(c[1]), None, None, None, span)
        ]

    def s_ack(self, meta: Any, c: list[Any]) -> Any:
        span = self._span(meta)
        return lambda at: [ast.TestStepAst(at, "ack", None, str(c[0]), None, None, None, None, span)]

    def s_unshelve(self, meta: Any, c: list[Any]) -> Any:
        span = self._span(meta)
        return lambda at: [ast.TestStepAst(at, "unshelve", None, str(c[0]), None, None, None, None, span)]

    def s_shelve(self, meta: Any, c: list[Any]) -> Any:
        span = self._span(meta)
        return lambda at: [
            ast.TestStepAst(at, "shelve", None, str(c[0]), None, None, None, c[1].seconds, span)
        ]

    def lit_number(self, meta: Any, c: list[Token]) -> tuple[Any, str | None]:
        return (self._number(c[0]), None)

    def lit_quantity(self, meta: Any, c: list[Token]) -> tuple[Any, str | None]:
        return (self._number(c[0]), str(c[1]))

    def lit_percent(self, meta: Any, c: list[Token]) -> tuple[Any, str | None]:
        return (self._number(Token("NUMBER", str(c[0])[:-1])), "%")

    def lit_neg_number(self, meta: Any, c: list[Token]) -> tuple[Any, str | None]:
        return (-self._number(c[-1]), None)

    def lit_neg_quantity(self, meta: Any, c: list[Token]) -> tuple[Any, str | None]:
        return (-self._number(c[-2]), str(c[-1]))

    def lit_string(self, meta: Any, c: list[Token]) -> tuple[Any, str | None]:
        return (self._string(c[0]), None)

    def lit_true(self, meta: Any, c: list[Token]) -> tuple[Any, str | None]:
        return (True, None)

    def lit_false(self, meta: Any, c: list[Token]) -> tuple[Any, str | None]:
        return (False, None)

    def json_object(self, meta: Any, c: list[Any]) -> dict[str, Any]:
        return dict(c)

    def json_pair(self, meta: Any, c: list[Any]) -> tuple[str, Any]:
        return (self._string(c[0]), c[1])

    def json_array(self, meta: Any, c: list[Any]) -> list[Any]:
        return list(c)

    def json_string(self, meta: Any, c: list[Token]) -> str:
        return self._string(c[0])

    def json_number(self, meta: Any, c: list[Token]) -> float | int:
        value = self._number(c[0])
        return int(value) if value.is_integer() and "." not in str(c[0]) else value

    def json_neg_number(self, meta: Any, c: list[Token]) -> float | int:
        value = self._number(c[-1])
        return -int(value) if value.is_integer() and "." not in str(c[-1]) else -value

    def json_true(self, meta: Any, c: list[Token]) -> bool:
        return True

    def json_false(self, meta: Any, c: list[Token]) -> bool:
        return False

    def json_null(self, meta: Any, c: list[Token]) -> None:
        return None

    def dur_literal(self, meta: Any, c: list[Token]) -> ast.Duration:
        text = str(c[0])
        number, unit = re.fullmatch(r"([\d.]+)([a-z]+)", text).groups()  # type: ignore[union-attr]
        return ast.Duration(float(number) * DURATION_UNITS[unit], text, self._span(meta))

    def dur_quantity(self, meta: Any, c: list[Token]) -> ast.Duration:
        return ast.Duration(self._seconds(c[0], c[1]), f"{c[0]} {c[1]}", self._span(meta))

    # -------------------------------------------------------------- expressions
    def if_expr(self, meta: Any, c: list[Any]) -> ast.If:
        return ast.If(c[0], c[1], c[2], self._span(meta))

    def coalesce(self, meta: Any, c: list[Any]) -> ast.Binary:
        return ast.Binary("??", c[0], c[1], self._span(meta))

    def or_expr(self, meta: Any, c: list[Any]) -> ast.Binary:
        return ast.Binary("or", c[0], c[1], self._span(meta))

    def and_expr(self, meta: Any, c: list[Any]) -> ast.Binary:
        return ast.Binary("and", c[0], c[1], self._span(meta))

    def not_expr(self, meta: Any, c: list[Any]) -> ast.Unary:
        return ast.Unary("not", c[0], self._span(meta))

    def compare(self, meta: Any, c: list[Any]) -> ast.Binary:
        return ast.Binary(str(c[1]), c[0], c[2], self._span(meta))

    def in_expr(self, meta: Any, c: list[Any]) -> ast.In:
        return ast.In(c[0], tuple(c[1:]), False, self._span(meta))

    def not_in_expr(self, meta: Any, c: list[Any]) -> ast.In:
        return ast.In(c[0], tuple(c[1:]), True, self._span(meta))

    def binop(self, meta: Any, c: list[Any]) -> ast.Binary:
        return ast.Binary(str(c[1]), c[0], c[2], self._span(meta))

    def pow_expr(self, meta: Any, c: list[Any]) -> ast.Binary:
        return ast.Binary("**", c[0], c[1], self._span(meta))

    def neg(self, meta: Any, c: list[Any]) -> ast.Unary:
        return ast.Unary("-", c[-1], self._span(meta))

    def number(self, meta: Any, c: list[Token]) -> ast.Num:
        return ast.Num(self._number(c[0]), None, self._span(meta))

    def quantity(self, meta: Any, c: list[Token]) -> ast.Num:
        return ast.Num(self._number(c[0]), str(c[1]), self._span(meta))

    def percent(self, meta: Any, c: list[Token]) -> ast.Num:
        return ast.Num(float(str(c[0])[:-1]), "%", self._span(meta))

    def duration_expr(self, meta: Any, c: list[Token]) -> ast.Duration:
        return self.dur_literal(meta, c)

    def string(self, meta: Any, c: list[Token]) -> ast.Str:
        return ast.Str(self._string(c[0]), self._span(meta))

    def true(self, meta: Any, c: list[Token]) -> ast.Bool:
        return ast.Bool(True, self._span(meta))

    def false(self, meta: Any, c: list[Token]) -> ast.Bool:
        return ast.Bool(False, self._span(meta))

    def missing(self, meta: Any, c: list[Token]) -> ast.Missing:
        return ast.Missing(self._span(meta))

    def call(self, meta: Any, c: list[Any]) -> ast.Call:
        return ast.Call(str(c[0]), tuple(c[1:]), self._span(meta), self._span(c[0]))

    def dotted_path(self, meta: Any, c: list[Token]) -> ast.Path:
        return ast.Path(tuple(str(t) for t in c), None, self._span(meta))

    def pointer_path(self, meta: Any, c: list[Token]) -> ast.Path:
        return ast.Path((), str(c[0])[1:-1], self._span(meta))

    def __default__(self, data: Any, children: Any, meta: Any) -> Any:  # pragma: no cover - grammar is total
        return Tree(data, children, meta)
