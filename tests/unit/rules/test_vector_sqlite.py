"""The vectorized backtest from a SQLite history file: same report as the engine, and when it steps aside."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from centinela.cli.main import app
from centinela.dsl.compile import compile_checked
from centinela.dsl.pipeline import check_source, compile_paths
from centinela.infra.sqlite_history import SqliteHistoryStore
from centinela.ports import Sample
from centinela.rules.backtest import BacktestError, backtest_sqlite, backtest_vector
from centinela.rules.vector_sqlite import checked_for, load_sqlite

X = "/features/p/properties/x"
Y = "/features/p/properties/y"
RULES = """twins D = definition "acme:dev:*"
alarm D High severity high when p.x > 60 clear when p.x < 55
compute D out.f = p.x - p.y
compute D out.avg = avg(p.x, 30s)
"""


async def _history(db: Path, *, text_value: bool = False) -> None:
    samples = [Sample(0.0, "acme:a", "/definition", None, "acme:dev:1"), Sample(0.0, "acme:b", X, 1.0)]
    samples.append(Sample(0.0, "acme:c", "/definition", None, "other:thing:1"))
    for i in range(1, 120):
        for thing in ("acme:a", "acme:b", "acme:c"):
            samples.append(Sample(float(i), thing, X if i % 3 else Y, float((i * 17) % 90)))
    if text_value:
        samples.append(Sample(50.5, "acme:a", X, None, {"not": "a number"}))
    store = SqliteHistoryStore(f"sqlite:///{db}")
    await store.write_samples(samples)
    await store.aclose()


async def test_sqlite_columns_give_the_engine_report(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    await _history(db)
    checked = check_source(RULES, "d.rules").checked
    program = compile_checked(checked)
    engine = await backtest_sqlite(program, str(db), 0.0, 200.0, vector=False)
    vector = await backtest_sqlite(program, str(db), 0.0, 200.0, checked=checked)
    assert vector.vectorized and not engine.vectorized
    assert len(engine.transitions) > 4
    assert vector.transitions == engine.transitions
    assert list(vector.computed) == list(engine.computed)
    assert vector.readings == engine.readings
    assert vector.to_json() == engine.to_json()
    # Only acme:a has the class's definition at its first instant: acme:b and acme:c stay unbound.
    assert {t.thing_id for t in vector.transitions} == {"acme:a"}


async def test_a_non_numeric_input_reading_leaves_the_backtest_to_the_engine(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    await _history(db, text_value=True)
    checked = check_source(RULES, "d.rules").checked
    program = compile_checked(checked)
    assert backtest_vector(program, str(db), 0.0, 200.0, checked) is None
    report = await backtest_sqlite(program, str(db), 0.0, 200.0, checked=checked)
    assert not report.vectorized
    assert report.transitions


async def test_the_columns_keep_the_time_range_and_the_definitions_apart(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    await _history(db)
    history = load_sqlite(str(db), 10.0, 20.0)
    assert history.things == ("acme:a", "acme:b", "acme:c")
    assert history.time.min() == 10.0 and history.time.max() == 19.0
    assert len(history.time) == 30 and not history.other
    full = load_sqlite(str(db), 0.0, 200.0)  # every row: read without a time test
    assert sorted(r[2] for r in full.other) == ["/definition", "/definition"]
    assert len(full) == 2 + 1 + 3 * 119
    part = load_sqlite(str(db), 10.0, 20.0, ("acme:b", "acme:c"))
    assert part.things == ("acme:b", "acme:c") and len(part.time) == 20
    assert part.time.min() == 10.0 and part.time.max() == 19.0
    rest = load_sqlite(str(db), 0.0, 200.0, ("acme:c", "acme:c"))
    assert rest.things == ("acme:c",) and len(rest) == 1 + 119


def test_the_ir_is_found_again_from_the_rule_files(tmp_path: Path) -> None:
    rules = tmp_path / "d.rules"
    rules.write_text(RULES)
    program = compile_paths([rules])
    checked = checked_for(program)
    assert checked is not None and set(checked.classes) == {"D"}
    rules.unlink()
    assert checked_for(program) is None


def test_an_unreadable_history_is_named(tmp_path: Path) -> None:
    program = compile_checked(check_source(RULES, "d.rules").checked)
    with pytest.raises(BacktestError, match="absent.db"):
        backtest_vector(program, str(tmp_path / "absent.db"), 0.0, 1.0)


def test_the_command_gives_one_report_with_and_without_the_vectorized_path(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    asyncio.run(_history(db))
    rules = tmp_path / "d.rules"
    rules.write_text(RULES)
    args = ["backtest", str(rules), "--history", f"sqlite:///{db}", "--from", "0", "--to", "200"]
    fast = CliRunner().invoke(app, [*args, "--format", "json", "--workers", "2"])
    slow = CliRunner().invoke(app, [*args, "--format", "json", "--no-vector"])
    assert fast.exit_code == 0, fast.output
    assert slow.exit_code == 0, slow.output
    assert json.loads(fast.output) == json.loads(slow.output)
    assert json.loads(fast.output)["transitions"]


async def test_things_split_over_processes_give_one_replay(tmp_path: Path) -> None:
    from centinela.rules.vector_parallel import replay_sqlite, thing_ranges

    db = tmp_path / "h.db"
    await _history(db)
    checked = check_source(RULES.replace('definition "acme:dev:*"', 'things "acme:*"'), "d.rules").checked
    program = compile_checked(checked)
    one = replay_sqlite(program, checked, str(db), 0.0, 200.0, workers=1)
    three = replay_sqlite(program, checked, str(db), 0.0, 200.0, workers=3, min_rows=0)
    assert {t.thing_id for t in one.transitions} == {"acme:a", "acme:b", "acme:c"}
    assert three.transitions == one.transitions
    assert list(three.rows) == list(one.rows)
    assert three.readings == one.readings
    assert thing_ranges([("a", 5), ("b", 5), ("c", 1), ("d", 9)], 2) == [("a", "b"), ("c", "d")]
    assert thing_ranges([("a", 5)], 3) == [("a", "a")]
    assert thing_ranges([(t, 1) for t in "abcdefghij"], 2, lead=0.25) == [("a", "b"), ("c", "j")]


async def test_an_empty_time_range_replays_nothing(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    await _history(db)
    checked = check_source(RULES, "d.rules").checked
    program = compile_checked(checked)
    report = backtest_vector(program, str(db), 500.0, 600.0, checked)
    assert report is not None and report.vectorized
    assert report.readings == 0 and not report.transitions and not list(report.computed)


async def test_marked_rows_are_read_again_and_an_infinite_reading_stays_a_number(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    await _history(db, text_value=True)
    store = SqliteHistoryStore(f"sqlite:///{db}")
    await store.write_samples([Sample(60.5, "acme:b", X, float("inf")), Sample(61.5, "acme:c", Y, None)])
    await store.aclose()
    history = load_sqlite(str(db), 0.0, 200.0)
    b = history.things.index("acme:b")
    at = (history.thing == b) & (history.time == 60.5)
    assert history.value[at].tolist() == [float("inf")]
    apart = [(r[0], r[1], r[2]) for r in history.other]  # JSON values and nulls, in table order
    assert apart == [(0.0, "acme:a", "/definition"), (0.0, "acme:c", "/definition"), (50.5, "acme:a", X)] + [
        (61.5, "acme:c", Y)
    ]
    assert len(history) == 1 + 3 * 119 + 2 + 3  # every row once, in the columns or apart


async def test_thing_ranges_from_a_sample_meet_and_cover_every_thing(tmp_path: Path) -> None:
    import sqlite3

    from centinela.rules.vector_parallel import split_things

    db = tmp_path / "h.db"
    await _history(db)
    conn = sqlite3.connect(db)
    try:
        sampled = split_things(conn, 0.0, 200.0, 2)
        counted = split_things(conn, 10.0, 12.0, 2)  # too few sampled rows in range: exact counts
        things = [r[0] for r in conn.execute("SELECT DISTINCT thing_id FROM telemetry ORDER BY thing_id")]
        assert split_things(conn, 500.0, 600.0, 2) == []
    finally:
        conn.close()
    for ranges in (sampled, counted):
        assert len(ranges) == 2
        assert ranges[0][0] == things[0] and ranges[-1][1] == things[-1]
        for thing in things:
            assert sum(first <= thing <= last for first, last in ranges) == 1
