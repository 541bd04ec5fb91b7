"""Source spans and diagnostics: what the parser and the checker report about `.rules` text."""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum

__all__ = ["Diagnostic", "Level", "Span", "format_json", "format_text"]


@dataclass(frozen=True, slots=True)
class Span:
    """A region of a source file; lines and columns are 1-based, `end_column` is exclusive."""

    file: str
    line: int
    column: int
    end_line: int
    end_column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


class Level(Enum):
    """How bad a diagnostic is: errors stop compilation, warnings do not."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem found in a `.rules` file, with a stable code (`E001`...) and an optional hint."""

    code: str
    message: str
    span: Span
    hint: str | None = None
    severity: Level = Level.ERROR

    def sort_key(self) -> tuple[str, int, int, str, str]:
        return (self.span.file, self.span.line, self.span.column, self.code, self.message)


def format_text(diag: Diagnostic, source: str | None) -> str:
    """`file:line:col: error[CODE]: message`, the source line, a caret under the span, then the hint."""
    span = diag.span
    out = [f"{span}: {diag.severity.value}[{diag.code}]: {diag.message}"]
    if source is not None:
        lines = source.splitlines()
        if 1 <= span.line <= len(lines):
            text = lines[span.line - 1].expandtabs(1)
            end = span.end_column if span.end_line == span.line else len(text) + 1
            width = max(1, end - span.column)
            out.append(f"  {span.line:>4} | {text}")
            out.append(f"       | {' ' * (span.column - 1)}{'^' * width}")
    if diag.hint:
        out.append(f"  hint: {diag.hint}")
    return "\n".join(out)


def format_json(diag: Diagnostic) -> str:
    """One JSON object per diagnostic, for editors and CI."""
    span = diag.span
    return json.dumps(
        {
            "file": span.file,
            "line": span.line,
            "column": span.column,
            "end_line": span.end_line,
            "end_column": span.end_column,
            "severity": diag.severity.value,
            "code": diag.code,
            "message": diag.message,
            "hint": diag.hint,
        },
        sort_keys=False,
    )
