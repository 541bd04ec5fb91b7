"""`centinela check PATH...`: check `.rules` files and folders, print every diagnostic, exit 0/1/2."""

from __future__ import annotations

import enum
from pathlib import Path

import typer

from centinela.dsl.diagnostics import format_json, format_text
from centinela.dsl.pipeline import check_paths, rule_files

__all__ = ["register"]


class OutputFormat(enum.StrEnum):
    TEXT = "text"
    JSON = "json"


def check(
    paths: list[Path] = typer.Argument(..., help="Rule files, or folders searched for *.rules."),  # noqa: B008
    output: OutputFormat = typer.Option(  # noqa: B008
        OutputFormat.TEXT, "--format", help="text, or json (one object a line)."
    ),
) -> None:
    """Check rule files: every error with file:line:col, the source line, a caret and a hint."""
    try:
        files = rule_files(paths)
        result = check_paths(paths)
    except (OSError, UnicodeDecodeError) as exc:
        typer.echo(f"error: cannot read the rule files: {exc}", err=True)
        raise typer.Exit(2) from None
    if not files:
        shown = ", ".join(str(p) for p in paths)
        typer.echo(f"error: there is no *.rules file in {shown}; nothing was checked.", err=True)
        raise typer.Exit(2)
    for diag in result.diagnostics:
        if output is OutputFormat.JSON:
            typer.echo(format_json(diag))
        else:
            typer.echo(format_text(diag, result.sources.get(diag.span.file)))
    errors = len(result.errors)
    if output is OutputFormat.TEXT:
        warnings = len(result.diagnostics) - errors
        classes = len(result.checked.classes)
        rules = sum(len(c.nodes) for c in result.checked.classes.values())
        counts = [
            _plural(len(files), "file"),
            _plural(classes, "twin class", "twin classes"),
            _plural(rules, "rule"),
            _plural(len(result.checked.tests), "test"),
        ]
        summary = (
            f"checked {counts[0]}: {', '.join(counts[1:])}; "
            f"{_plural(errors, 'error')}, {_plural(warnings, 'warning')}"
        )
        typer.echo(summary, err=errors > 0)
    if errors:
        raise typer.Exit(1)


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else many or one + 's'}"


def register(app: typer.Typer) -> None:
    app.command("check")(check)
