"""Golden files: ok/NAME.rules → NAME.ast.txt (syntax tree) and errors/NAME.rules → NAME.err (diagnostics).

Regenerate with `CENTINELA_REGEN_GOLDENS=1 pytest tests/golden/dsl` and review the diff by eye.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from centinela.dsl.ast import dump
from centinela.dsl.codes import CODES
from centinela.dsl.diagnostics import format_text
from centinela.dsl.parser import parse
from centinela.dsl.pipeline import check_source

HERE = Path(__file__).parent
REGEN = os.environ.get("CENTINELA_REGEN_GOLDENS") == "1"
OK = sorted((HERE / "ok").glob("*.rules"))
ERRORS = sorted((HERE / "errors").glob("*.rules"))


def _compare(path: Path, actual: str) -> None:
    if REGEN:
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"{path.name} is missing; run with CENTINELA_REGEN_GOLDENS=1 and review it"
    assert actual == path.read_text(encoding="utf-8")


def _err_text(rules: Path) -> str:
    text = rules.read_text(encoding="utf-8")
    result = check_source(text, rules.name)
    return "".join(format_text(d, text) + "\n" for d in result.diagnostics)


@pytest.mark.parametrize("rules", OK, ids=lambda p: p.stem)
def test_ok_golden(rules: Path) -> None:
    text = rules.read_text(encoding="utf-8")
    parsed = parse(text, rules.name)
    assert parsed.diagnostics == []
    result = check_source(text, rules.name)
    assert result.errors == (), [d.message for d in result.errors]
    _compare(rules.with_suffix(".ast.txt"), dump(parsed.module.decls) + "\n")


@pytest.mark.parametrize("rules", ERRORS, ids=lambda p: p.stem)
def test_error_golden(rules: Path) -> None:
    actual = _err_text(rules)
    assert actual, f"{rules.name} produced no diagnostic"
    _compare(rules.with_suffix(".err"), actual)


def test_every_code_has_a_golden_case() -> None:
    seen: set[str] = set()
    for rules in ERRORS:
        text = rules.read_text(encoding="utf-8")
        seen |= {d.code for d in check_source(text, rules.name).diagnostics}
    assert len(ERRORS) >= 40
    assert seen <= set(CODES), f"codes missing from centinela.dsl.codes: {sorted(seen - set(CODES))}"
    assert set(CODES) <= seen, f"codes without a golden error case: {sorted(set(CODES) - seen)}"
