"""`centinela test` over examples/: every alarm feature's test block passes; a wrong one fails loudly."""

from __future__ import annotations

import shutil
from pathlib import Path

from typer.testing import CliRunner

from centinela.cli.main import app

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def test_example_test_blocks_pass() -> None:
    result = CliRunner().invoke(app, ["test", str(EXAMPLES)])
    assert result.exit_code == 0, result.output
    assert " 0 failed" in result.output
    for feature in ("on-delay", "clear-for", "deadband", "latch", "shelve", "suppress", "missing", "stale"):
        assert f"ok   {feature}" in result.output


def test_a_wrong_expectation_fails_with_a_timeline_diff(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLES, tmp_path / "examples")
    target = tmp_path / "examples" / "tests" / "alarm-features.rules"
    text = target.read_text()
    target.write_text(
        text.replace("at 59s  expect HighTubingPressure normal", "at 59s  expect HighTubingPressure active")
    )
    result = CliRunner().invoke(app, ["test", str(tmp_path / "examples")])
    assert result.exit_code == 1
    assert "FAIL on-delay" in result.output
    assert "-     59s alarm HighTubingPressure is active" in result.output
    assert "+     59s alarm HighTubingPressure is normal" in result.output


def test_rules_that_do_not_compile_are_reported(tmp_path: Path) -> None:
    bad = tmp_path / "bad.rules"
    bad.write_text('twins Well = definition "x"\nalarm Well A severity critical when nosuch.path > 1 +\n')
    result = CliRunner().invoke(app, ["test", str(bad)])
    assert result.exit_code == 2
    assert "bad.rules:" in result.output
