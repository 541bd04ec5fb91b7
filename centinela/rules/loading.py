"""Finding and compiling `.rules` files for the engine's commands."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from centinela.dsl.pipeline import compile_paths
from centinela.dsl.program import Program
from centinela.errors import RulesError

__all__ = ["format_rules_error", "load_program", "rule_files"]


def rule_files(paths: Sequence[Path]) -> list[Path]:
    """Every `.rules` file named or under a named directory, sorted."""
    found: set[Path] = set()
    for path in paths:
        if path.is_dir():
            found.update(p for p in path.rglob("*.rules") if p.is_file())
        elif path.exists():
            found.add(path)
    return sorted(found)


def load_program(paths: Sequence[Path]) -> Program:
    """Compile every rule file under `paths`; raises `RulesError` with the diagnostics."""
    files = rule_files(paths)
    if not files:
        names = ", ".join(str(p) for p in paths) or "(none)"
        msg = f"No .rules files were found in {names}."
        raise RulesError(msg)
    return compile_paths(files)


def format_rules_error(exc: RulesError) -> str:
    """The error with every diagnostic, as `centinela check` prints them."""
    lines = [str(exc)]
    try:
        diagnostics: Any = importlib.import_module("centinela.dsl.diagnostics")
    except ImportError:  # pragma: no cover - the package always has it
        return "\n".join(lines)
    for diag in exc.diagnostics:
        if isinstance(diag, diagnostics.Diagnostic):
            source = None
            try:
                source = Path(diag.span.file).read_text(encoding="utf-8")
            except OSError:
                pass
            lines.append(diagnostics.format_text(diag, source))
        else:
            lines.append(str(diag))
    return "\n".join(lines)
