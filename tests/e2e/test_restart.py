"""Restart: an engine process killed with SIGKILL mid-stream and restarted from its checkpoint gives the
same alarm timeline as an uninterrupted run, with no duplicates."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from centinela.adapters.wellpad import WellPad

ROOT = Path(__file__).resolve().parents[2]
CHILD = Path(__file__).with_name("restart_child.py")
START = 1_800_000_000.0


def _merges(path: Path, seconds: int) -> None:
    pad = WellPad(seed=3)
    lines = []
    for t in range(seconds):
        per_thing: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
        for key, value in pad.sample(float(t)).items():
            thing, feature, prop = key.split("/")
            per_thing.setdefault(thing, {}).setdefault(feature, {"properties": {}})["properties"][prop] = (
                value
            )
        for thing, features in sorted(per_thing.items()):
            lines.append(json.dumps({"thing": thing, "time": START + t, "features": features}))
    path.write_text("\n".join(lines) + "\n")


def _run(args: list[str], kill_after: int | None = None) -> tuple[int, int]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(  # noqa: S603 - our own script
        [sys.executable, str(CHILD), *args], stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT
    )
    assert proc.stdout is not None
    last, resumed = -1, -1
    for line in proc.stdout:
        if line.strip() == "done":
            break
        if line.startswith("resume "):
            resumed = int(line.split()[1])
            continue
        last = int(line)
        if kill_after is not None and last >= kill_after:
            proc.send_signal(signal.SIGKILL)
            break
    proc.stdout.close()
    proc.wait(timeout=60)
    return last, resumed


def _timeline(db: Path) -> list[tuple[str, float, str, str, str]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(
            "SELECT alarm_id, time, thing_id, rule, state FROM alarm_events ORDER BY time, alarm_id"
        ).fetchall()
    finally:
        conn.close()


@pytest.mark.slow
def test_sigkill_and_restart_gives_the_uninterrupted_timeline(tmp_path: Path) -> None:
    merges = tmp_path / "merges.jsonl"
    _merges(merges, 160)
    rules = str(ROOT / "examples")
    whole = tmp_path / "whole"
    whole.mkdir()
    _run([rules, str(merges), f"sqlite:///{whole / 's.db'}", f"sqlite:///{whole / 'h.db'}"])
    expected = _timeline(whole / "h.db")
    assert len(expected) >= 3  # the scripted excursions trip alarms

    broken = tmp_path / "broken"
    broken.mkdir()
    args = [rules, str(merges), f"sqlite:///{broken / 's.db'}", f"sqlite:///{broken / 'h.db'}"]
    # Killed while HighTubingPressure's 30 s on-delay is pending (well-01 ramps up from t=12 s),
    # between two checkpoints: only a restored pending delay gives the same raise time.
    killed_at, _ = _run(args, kill_after=160)
    assert 160 <= killed_at < 639
    _, resumed = _run(args)
    assert 0 < resumed <= killed_at and resumed % 37 == 0
    actual = _timeline(broken / "h.db")
    assert actual == expected
    assert len({row[0] for row in actual}) == len(actual)
