"""`centinela serve` keeps its live state out of the GC's full scans unless its file says otherwise."""

from __future__ import annotations

from pathlib import Path

from centinela.rules.launch import serve_config


def test_serve_freezes_gc_by_default(tmp_path: Path) -> None:
    assert serve_config(None).freeze_gc is True
    plain = tmp_path / "plain.yaml"
    plain.write_text("port: 9000\n", encoding="utf-8")
    config = serve_config(plain)
    assert config.freeze_gc is True and config.port == 9000


def test_serve_config_file_can_turn_gc_freezing_off(tmp_path: Path) -> None:
    off = tmp_path / "off.yaml"
    off.write_text("freeze_gc: false\n", encoding="utf-8")
    assert serve_config(off).freeze_gc is False
