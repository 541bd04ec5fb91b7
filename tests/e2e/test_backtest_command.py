"""`centinela backtest` over a SQLite history written by the streaming engine: same transitions."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from typer.testing import CliRunner

from centinela.cli.main import app
from centinela.dsl import compile_paths
from centinela.infra.sqlite_history import SqliteHistoryStore
from centinela.rules.engine import Engine
from centinela.rules.output import StepOutput

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
WELL = "org.acme.wells:well-bt"
TUBING = "/features/pressure/properties/tubing"
T0 = 1_800_000_000.0


def _stream(db: Path) -> StepOutput:
    engine = Engine(compile_paths([EXAMPLES]))
    out = StepOutput()
    thing = {
        "thingId": WELL,
        "definition": "org.acme:producer-well:1.0.0",
        "attributes": {"status": "producing", "limits": {"tubingPressure": 3000}},
    }
    engine.bind(thing, T0, out)
    for i in range(1, 200):
        value = 3100.0 if 20 <= i < 80 or 120 <= i < 190 else 2800.0
        engine.advance(T0 + i, out)
        engine.ingest(WELL, TUBING, value, T0 + i, out)
    engine.advance(T0 + 400, out)

    async def write() -> None:
        store = SqliteHistoryStore(f"sqlite:///{db}")
        await store.write_samples(out.samples)
        await store.aclose()

    asyncio.run(write())
    return out


def test_backtest_reports_the_streamed_transitions_as_json(tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    streamed = _stream(db)
    result = CliRunner().invoke(
        app,
        [
            "backtest",
            str(EXAMPLES),
            "--history",
            f"sqlite:///{db}",
            "--from",
            str(T0),
            "--to",
            str(T0 + 400),
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert sorted(t["id"] for t in report["transitions"]) == sorted(a.id for a in streamed.alarms)
    [high] = [r for r in report["rules"] if r["rule"] == "HighTubingPressure"]
    assert high["alarms"] == 2
    assert high["alarmsPerHour"] == 2 / (400 / 3600)
    assert high["longestStanding"] > 30


def test_backtest_text_report_and_iso_times(tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    _stream(db)
    result = CliRunner().invoke(
        app,
        [
            "backtest",
            str(EXAMPLES),
            "--history",
            f"sqlite:///{db}",
            "--from",
            "2027-01-15T08:00:00Z",
            "--to",
            "2027-01-15T09:00:00",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "HighTubingPressure" in result.output and "per hour" in result.output
    bad = CliRunner().invoke(
        app, ["backtest", str(EXAMPLES), "--history", f"sqlite:///{db}", "--from", "soon", "--to", "later"]
    )
    assert bad.exit_code == 2
    assert "neither epoch seconds nor an ISO 8601" in bad.output
