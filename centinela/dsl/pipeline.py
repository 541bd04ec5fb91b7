"""The whole pipeline: files → parse → checks → compile; diagnostics collected from every stage."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from centinela.dsl import ast
from centinela.dsl.checked import CheckedProgram
from centinela.dsl.checks import check_modules
from centinela.dsl.compile import compile_checked
from centinela.dsl.diagnostics import Diagnostic, Level
from centinela.dsl.gcpause import gc_paused
from centinela.dsl.parser import parse
from centinela.dsl.program import Program
from centinela.errors import RulesError

__all__ = ["CheckResult", "check_paths", "check_source", "compile_paths", "compile_source", "rule_files"]


@dataclass(frozen=True, slots=True)
class CheckResult:
    """Diagnostics of a set of files (sorted), their sources for carets, and the checked program."""

    diagnostics: tuple[Diagnostic, ...]
    sources: dict[str, str]
    checked: CheckedProgram

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity is Level.ERROR)


def rule_files(paths: Sequence[Path]) -> list[Path]:
    """Files named directly, and every `*.rules` under named folders (sorted); OSError if absent."""
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files.extend(sorted(p.rglob("*.rules")))
        elif p.is_file():
            files.append(p)
        else:
            msg = f"The path {p} does not exist."
            raise FileNotFoundError(msg)
    return files


def _check(sources: dict[str, str]) -> CheckResult:
    diagnostics: list[Diagnostic] = []
    modules: list[ast.Module] = []
    with gc_paused():
        for name, text in sources.items():
            result = parse(text, name)
            diagnostics.extend(result.diagnostics)
            modules.append(result.module)
        checked = check_modules(modules, diagnostics)
    unique = sorted(set(diagnostics), key=Diagnostic.sort_key)
    return CheckResult(tuple(unique), sources, checked)


def check_source(text: str, filename: str = "<string>") -> CheckResult:
    return _check({filename: text})


def check_paths(paths: Sequence[Path]) -> CheckResult:
    """Check every rule file under `paths` together; OSError / UnicodeDecodeError if one cannot be read."""
    return _check({str(f): _read(f) for f in rule_files(paths)})


def _read(path: Path) -> str:
    """The text of a rule file; a UnicodeDecodeError that names the file and line when it is not UTF-8."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        reason = f"the rule file {path} is not UTF-8 text (line {line}, column {column})"
        raise UnicodeDecodeError(exc.encoding, data, exc.start, exc.end, reason) from None


def _compile(result: CheckResult) -> Program:
    if result.errors:
        n = len(result.errors)
        first = result.errors[0]
        msg = f"The rules have {n} error{'s' if n > 1 else ''}; the first is at {first.span}: {first.message}"
        raise RulesError(msg, result.diagnostics)
    return compile_checked(result.checked)


def compile_source(text: str, filename: str = "<string>") -> Program:
    """Compile rule text; raises RulesError(diagnostics=...) when it does not check."""
    return _compile(check_source(text, filename))


def compile_paths(paths: Sequence[Path]) -> Program:
    """Compile rule files and folders; raises RulesError(diagnostics=...) when they do not check."""
    return _compile(check_paths(paths))
