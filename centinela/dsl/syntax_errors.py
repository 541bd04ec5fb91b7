"""Syntax errors from Lark turned into diagnostics with a position and a hint of what was expected."""

from __future__ import annotations

import re

from lark import Lark
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from centinela.dsl.diagnostics import Diagnostic, Span

__all__ = ["syntax_diagnostic"]

_TOKEN_NAMES = {
    "NAME": "a name", "NUMBER": "a number", "STRING": "a string", "DURATION": "a duration",
    "UNIT": "a unit", "POINTER": "a quoted JSON pointer", "PCT": "a percentage",
    "$END": "the end of the file",
}  # fmt: skip


def syntax_diagnostic(exc: UnexpectedInput, text: str, filename: str, lark: Lark) -> Diagnostic:
    """E001 unexpected token, E002 unexpected character, E003 unfinished declaration, with a hint."""
    line = max(1, getattr(exc, "line", 1) or 1)
    column = max(1, getattr(exc, "column", 1) or 1)
    if isinstance(exc, UnexpectedToken) and exc.token.type == "$END" or isinstance(exc, UnexpectedEOF):
        lines = text.splitlines() or [""]
        line, column = len(lines), len(lines[-1]) + 1
        expected = _expected(lark, getattr(exc, "expected", None) or getattr(exc, "accepts", None) or set())
        return Diagnostic(
            "E003",
            "The declaration ends before it is complete.",
            Span(filename, line, column, line, column + 1),
            _percent_hint(text, len(text)) or (f"expected {expected}" if expected else None),
        )
    if isinstance(exc, UnexpectedCharacters):
        pos = exc.pos_in_stream or 0
        char = text[pos] if pos < len(text) else "?"
        hint = _expected(lark, exc.allowed or set())
        if char == '"':
            msg = "The string starting here is not closed on the same line."
        else:
            msg = f"The character {char!r} is not expected here."
        return Diagnostic(
            "E002", msg, Span(filename, line, column, line, column + 1), f"expected {hint}" if hint else None
        )
    tok = exc.token if isinstance(exc, UnexpectedToken) else "?"
    width = max(1, len(str(tok)))
    accepts = (exc.accepts or exc.expected) if isinstance(exc, UnexpectedToken) else set()
    hint = _expected(lark, accepts or set())
    start = getattr(tok, "start_pos", None)
    return Diagnostic(
        "E001",
        f"The token {str(tok)!r} is not expected here.",
        Span(filename, line, column, line, column + width),
        (_percent_hint(text, start) if start is not None else None) or (f"expected {hint}" if hint else None),
    )


_SPACED_PERCENT = re.compile(r"\d[ \t]+%[ \t]*([A-Za-z_]\w*[ \t]*)?\s*$")


def _percent_hint(text: str, pos: int) -> str | None:
    """A hint when the text before `pos` is a number, a space and `%` (`50 %` is a remainder).

    The `%` may be followed by the one word the remainder then took as its operand (`50 % severity`).
    """
    if _SPACED_PERCENT.search(text, max(0, pos - 200), pos):
        return "write a percentage without a space (`50%`) or as `50 percent`; `a % b` is the remainder"
    return None


def _expected(lark: Lark, names: set[str] | frozenset[str]) -> str:
    if set(names) == {"LSQB"}:
        return "'[' (`in` is the membership operator, as in `x in [a, b]`; write inches as `inch`)"
    shown: set[str] = set()
    for name in names:
        if name in _TOKEN_NAMES:
            shown.add(_TOKEN_NAMES[name])
        elif name.isupper() and not name.startswith("__"):
            terminals = {t.name: t for t in lark.terminals}
            literal = terminals[name].pattern.value if name in terminals else name.lower()
            shown.add(repr(literal) if isinstance(literal, str) else name.lower())
    return ", ".join(sorted(shown)[:12])
