"""examples/ shows every construct of the language reference, and every example there checks clean."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

from centinela.dsl import ast
from centinela.dsl.parser import parse
from centinela.dsl.pipeline import check_paths

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples"
RULE_FILES = sorted(p for p in EXAMPLES.rglob("*.rules") if p.parent.name != "tests")

FUNCTIONS = {
    # math
    "abs", "min", "max", "round", "floor", "ceil", "sqrt", "exp", "ln", "log10", "clamp",
    # windows and time
    "avg", "sum", "count", "stddev", "median", "percentile", "delta", "rate", "integral", "previous",
    "changed", "age", "stale", "rising", "falling", "count_true", "duration_true",
    # domain
    "vogel_ipr", "productivity_index", "mse", "hydrostatic", "esp_efficiency",
}  # fmt: skip
OPERATORS = {"+", "-", "*", "/", "**", "??", "and", "or", "==", "<", ">", ">="}
CLAUSES = {"severity", "when", "clear", "deadband", "latch", "suppress", "on_missing", "message", "chatter"}


def nodes(value: object) -> Iterator[object]:
    """Every AST node below `value` (the AST is frozen dataclasses, tuples and lists)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        yield value
        for f in dataclasses.fields(value):
            yield from nodes(getattr(value, f.name))
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from nodes(item)


def everything() -> list[object]:
    found: list[object] = []
    for path in RULE_FILES:
        result = parse(path.read_text(encoding="utf-8"), str(path))
        assert result.diagnostics == []
        found.extend(nodes(result.module.decls))
    return found


def test_examples_check_clean() -> None:
    result = check_paths([EXAMPLES])
    assert result.diagnostics == (), [f"{d.span}: {d.message}" for d in result.diagnostics]
    assert {p.parent.name for p in RULE_FILES} >= {"wells", "drilling", "lift"}


def test_examples_show_every_function_operator_and_clause() -> None:
    found = everything()
    calls = {n.name for n in found if isinstance(n, ast.Call)}
    windowed_integral = any(
        isinstance(n, ast.Call) and n.name == "integral" and len(n.args) == 2 for n in found
    )
    ops = {n.op for n in found if isinstance(n, (ast.Binary, ast.Unary))}
    clauses = {n.kind for n in found if isinstance(n, ast.Clause)}
    policies = {n.text for n in found if isinstance(n, ast.Clause) and n.kind == "on_missing"}
    assert FUNCTIONS - calls == set()
    assert windowed_integral
    assert OPERATORS - ops == set()
    assert CLAUSES - clauses == set()
    assert policies == {"raise", "clear", "hold"}
    assert {n.negated for n in found if isinstance(n, ast.In)} == {True, False}
    assert any(isinstance(n, ast.If) for n in found)


def test_examples_show_every_kind_of_path_and_twin_class() -> None:
    found = everything()
    paths = [n for n in found if isinstance(n, ast.Path)]
    heads = {p.segments[0] for p in paths if p.segments}
    assert {"attributes", "desired", "thing"} <= heads
    assert {p.segments[1] for p in paths if p.segments[:1] == ("thing",)} == {"id", "name", "namespace"}
    assert any(p.pointer for p in paths)
    twins = [n for n in found if isinstance(n, ast.TwinsDecl)]
    assert any(t.definition for t in twins) and any(t.id_glob and t.where for t in twins)
    seconds = {n.seconds for n in found if isinstance(n, (ast.Duration, ast.Clause))}
    assert {30.0, 300.0, 3600.0, 2 * 86400.0} <= seconds
