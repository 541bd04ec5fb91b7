"""`centinela check`: text and JSON output, exit codes 0 / 1 / 2, folders and several files together."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from centinela.cli.main import app

ROOT = Path(__file__).resolve().parents[3]
runner = CliRunner()


def test_examples_are_clean() -> None:
    result = runner.invoke(app, ["check", str(ROOT / "examples")])
    assert result.exit_code == 0, result.output
    files = len(list((ROOT / "examples").rglob("*.rules")))
    assert f"checked {files} files" in result.output and "; 0 errors" in result.output


def test_text_output_has_location_source_caret_and_hint(tmp_path: Path) -> None:
    f = tmp_path / "bad.rules"
    f.write_text('twins Well = definition "a:*"\nlet Well.limit = 3\nalarm Well A when a.b > limt\n')
    result = runner.invoke(app, ["check", str(f)])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0] == f"{f}:3:25: error[E013]: The name 'limt' is not a let of this twin class nor a path."
    assert lines[1].endswith("| alarm Well A when a.b > limt")
    assert lines[2].endswith("|                         ^^^^")
    assert lines[3] == "  hint: did you mean 'limit'?"


def test_json_output_one_object_per_line(tmp_path: Path) -> None:
    f = tmp_path / "bad.rules"
    f.write_text(
        'twins Well = definition "a:*"\nunits Well { a.p : psi  a.q : bbl/d }\nlet Well.x = a.p + a.q\n'
        "let Well.y = nosuch(1)\n"
    )
    result = runner.invoke(app, ["check", "--format", "json", str(f)])
    assert result.exit_code == 1
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["code"] for r in rows] == ["E031", "E014"]
    assert rows[0] | {"message": "", "hint": ""} == {
        "file": str(f), "line": 3, "column": 14, "end_line": 3, "end_column": 23, "severity": "error",
        "code": "E031", "message": "", "hint": "",
    }  # fmt: skip


def test_folder_checks_files_together(tmp_path: Path) -> None:
    (tmp_path / "classes.rules").write_text('twins Well = definition "a:*"\n')
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "alarms.rules").write_text("alarm Well High when a.b > 1\n")
    (tmp_path / "notes.txt").write_text("not a rule file")
    result = runner.invoke(app, ["check", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "checked 2 files: 1 twin class, 1 rule, 0 tests; 0 errors, 0 warnings" in result.output


def test_warnings_alone_exit_zero(tmp_path: Path) -> None:
    f = tmp_path / "w.rules"
    f.write_text('twins W = definition "a:*"\nunits W { p.a : psi }\nalarm W A when p.b > 1\n')
    result = runner.invoke(app, ["check", str(f)])
    assert result.exit_code == 0
    assert "warning[W001]" in result.output


def test_missing_path_and_usage_errors_exit_two(tmp_path: Path) -> None:
    result = runner.invoke(app, ["check", str(tmp_path / "absent.rules")])
    assert result.exit_code == 2
    assert "does not exist" in result.output
    assert runner.invoke(app, ["check"]).exit_code == 2
    assert runner.invoke(app, ["check", "--format", "xml", str(tmp_path)]).exit_code == 2


def test_undecodable_file_exits_two(tmp_path: Path) -> None:
    f = tmp_path / "binary.rules"
    f.write_bytes(b"\xff\xfe\x00bad")
    result = runner.invoke(app, ["check", str(f)])
    assert result.exit_code == 2


def test_undecodable_file_is_named_with_its_line(tmp_path: Path) -> None:
    f = tmp_path / "latin1.rules"
    f.write_bytes(b'twins W = things "x:*"\nlet W.t = 3 # 30 \xb0C\n')
    result = runner.invoke(app, ["check", str(f)])
    assert result.exit_code == 2
    assert f"the rule file {f} is not UTF-8 text (line 2, column 18)" in result.output


def test_a_folder_without_rule_files_is_a_usage_error_not_a_clean_pass(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not rules")
    result = runner.invoke(app, ["check", str(tmp_path)])
    assert result.exit_code == 2
    assert "there is no *.rules file" in result.output
