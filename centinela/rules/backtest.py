"""Backtest: replay stored history through the same engine and summarise the alarm timeline per rule."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections.abc import AsyncIterable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from centinela.dsl.checked import CheckedProgram
from centinela.dsl.program import Program
from centinela.errors import CentinelaError
from centinela.ports import Sample
from centinela.rules.engine import Engine
from centinela.rules.output import AlarmEvent, StepOutput, pointer_parts

__all__ = [
    "BacktestError",
    "BacktestReport",
    "Replayer",
    "Row",
    "RuleStats",
    "backtest",
    "backtest_rows",
    "backtest_samples",
    "backtest_sqlite",
    "backtest_vector",
]

log = logging.getLogger(__name__)

Row = tuple[float, str, str, Any, Any]
"""A history row as stored: (time, thing_id, path, value, value_json as JSON text or None)."""
ROWS_SQL = (
    "SELECT time, thing_id, path, value, value_json FROM telemetry WHERE time >= ? AND time < ? "
    "ORDER BY time, thing_id, path"
)
CHUNK_ROWS = 100_000


class BacktestError(CentinelaError):
    """A history source that cannot be read."""


@dataclass(slots=True)
class RuleStats:
    rule: str
    transitions: int = 0
    alarms: int = 0
    alarms_per_hour: float = 0.0
    chattering: int = 0
    longest_standing: float = 0.0
    longest_thing: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "transitions": self.transitions,
            "alarms": self.alarms,
            "alarmsPerHour": self.alarms_per_hour,
            "chattering": self.chattering,
            "longestStanding": self.longest_standing,
            "longestThing": self.longest_thing,
        }


@dataclass(slots=True)
class BacktestReport:
    start: float
    end: float
    readings: int = 0
    transitions: list[AlarmEvent] = field(default_factory=list)
    rules: dict[str, RuleStats] = field(default_factory=dict)
    out_of_order: int = 0
    computed: Sequence[tuple[float, str, str, Any]] = ()  # computed-value rows (time, thing, key, value)
    vectorized: bool = False  # replayed by the vectorized path rather than the engine

    def to_json(self) -> dict[str, Any]:
        return {
            "from": self.start,
            "to": self.end,
            "readings": self.readings,
            "outOfOrder": self.out_of_order,
            "rules": [s.to_json() for s in sorted(self.rules.values(), key=lambda s: s.rule)],
            "transitions": [t.to_json() for t in self.transitions],
        }


class Replayer:
    """Feeds samples (in time order) to an engine, binding things from their stored definition."""

    def __init__(self, program: Program) -> None:
        self.engine = Engine(program, record_readings=False)
        self.out = StepOutput()
        self.readings = 0
        self._pending: dict[str, dict[str, Any]] = {}
        self._pending_time = 0.0
        self._advanced = float("-inf")
        self._inputs: dict[str, frozenset[str]] = {}  # bound thing -> every input its classes read

    def feed(self, sample: Sample) -> None:
        engine = self.engine
        time = sample.time
        if time > self._advanced:
            if self._pending and time > self._pending_time:
                self._bind_pending()
            engine.advance(time, self.out, before=True)  # as a reading's own catch-up does
            self._advanced = time
        value = sample.value if sample.value_json is None else sample.value_json
        inputs = self._inputs.get(sample.thing_id)
        if inputs is None:
            if sample.thing_id in engine.contexts:  # bound, but no class reads anything of it
                return
            doc = self._pending.setdefault(sample.thing_id, {"thingId": sample.thing_id})
            _set(doc, sample.path, value)
            self._pending_time = time
            return
        if sample.path not in inputs:
            return  # the definition, computed values and other paths no rule reads
        self.readings += 1
        engine.ingest(sample.thing_id, sample.path, value, time, self.out)

    def feed_rows(self, rows: Iterable[Row]) -> None:
        """`feed` for plain history rows (time order), without a `Sample` per row: the fast path."""
        engine = self.engine
        ingest, advance, out = engine.ingest, engine.advance, self.out
        timers = engine.timers_heap
        all_inputs = self._inputs
        advanced = self._advanced
        readings = 0
        for time, thing_id, path, value, value_json in rows:
            if time > advanced:
                if self._pending and time > self._pending_time:
                    self._bind_pending()
                if timers and timers[0][0] < time:  # the heap's head is the earliest entry
                    advance(time, out, before=True)
                advanced = self._advanced = time
            if value_json is not None:
                value = json.loads(value_json)
            inputs = all_inputs.get(thing_id)
            if inputs is None:
                if thing_id in engine.contexts:
                    continue
                doc = self._pending.setdefault(thing_id, {"thingId": thing_id})
                _set(doc, path, value)
                self._pending_time = time
                continue
            if path not in inputs:
                continue
            readings += 1
            ingest(thing_id, path, value, time, out)
        self.readings += readings

    def _bind_pending(self) -> None:
        for thing_id, doc in self._pending.items():
            contexts = self.engine.bind(doc, self._pending_time, self.out)
            if contexts:
                self._inputs[thing_id] = frozenset().union(*(c.twin_class.inputs for c in contexts))
        self._pending.clear()

    def finish(self, end: float) -> None:
        if self._pending:
            self._bind_pending()
        self.engine.advance(end, self.out)


def _set(doc: dict[str, Any], pointer: str, value: Any) -> None:
    parts = pointer_parts(pointer)
    if not parts:
        return
    for part in parts[:-1]:
        child = doc.get(part)
        if not isinstance(child, dict):
            child = doc[part] = {}
        doc = child
    doc[parts[-1]] = value


def summarise(report: BacktestReport) -> None:
    hours = max(report.end - report.start, 1e-9) / 3600.0
    raised_at: dict[tuple[str, str], float] = {}
    for event in report.transitions:
        stats = report.rules.setdefault(event.rule, RuleStats(event.rule))
        stats.transitions += 1
        key = (event.rule, event.thing_id)
        if event.cause == "raised":
            stats.alarms += 1
            raised_at.setdefault(key, event.time)
        elif event.cause == "chattering":
            stats.chattering += 1
        elif not event.active and event.cause in ("cleared", "reset", "ack") and key in raised_at:
            _standing(stats, event.thing_id, event.time - raised_at.pop(key))
    for (rule, thing), since in raised_at.items():  # still standing at the end of the replay
        _standing(report.rules[rule], thing, report.end - since)
    for stats in report.rules.values():
        stats.alarms_per_hour = stats.alarms / hours


def _standing(stats: RuleStats, thing: str, seconds: float) -> None:
    if seconds > stats.longest_standing:
        stats.longest_standing, stats.longest_thing = seconds, thing


def backtest_samples(program: Program, samples: Iterable[Sample], start: float, end: float) -> BacktestReport:
    """Replay `samples` (time-ordered) and report the transitions in [start, end]."""
    replayer = Replayer(program)
    for sample in samples:
        replayer.feed(sample)
    replayer.finish(end)
    return _report(replayer, start, end)


async def backtest(
    program: Program, samples: AsyncIterable[Sample], start: float, end: float
) -> BacktestReport:
    """Like `backtest_samples`, from an async source such as `HistoryStore.replay(start, end)`."""
    replayer = Replayer(program)
    async for sample in samples:
        replayer.feed(sample)
    replayer.finish(end)
    return _report(replayer, start, end)


def backtest_rows(program: Program, rows: Iterable[Row], start: float, end: float) -> BacktestReport:
    """Like `backtest_samples`, from plain history rows in time order (see `Row`)."""
    replayer = Replayer(program)
    replayer.feed_rows(rows)
    replayer.finish(end)
    return _report(replayer, start, end)


def _sqlite_rows(path: str, start: float, end: float) -> Iterable[Row]:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        cursor = conn.execute(ROWS_SQL, (start, end))
    except sqlite3.Error as exc:
        msg = f"The history file {path!r} cannot be read as a Centinela SQLite history: {exc}."
        raise BacktestError(msg) from exc
    try:
        while rows := cursor.fetchmany(CHUNK_ROWS):
            yield from rows
    finally:
        conn.close()


async def backtest_sqlite(
    program: Program,
    path: str,
    start: float,
    end: float,
    *,
    vector: bool = True,
    checked: CheckedProgram | None = None,
    workers: int = 1,
) -> BacktestReport:
    """Backtest straight from a SQLite history file (the `telemetry` table of `SqliteHistoryStore`).

    With `vector` (the default) the rules and the history are first offered to the vectorized path
    (`backtest_vector`), which gives the same transitions and computed rows when it applies; otherwise
    rows are read in large chunks and replayed through the engine. Both run in a worker thread, so the
    event loop stays free; the transitions are those of `backtest(program, store.replay(start, end), …)`.
    `checked` is the rules' checked IR (by default re-checked from `program.files`); `workers` > 1
    splits a large history by thing over that many processes.
    """
    if vector:
        report = await asyncio.to_thread(backtest_vector, program, path, start, end, checked, workers)
        if report is not None:
            return report
    _check_readable(path)
    return await asyncio.to_thread(backtest_rows, program, _sqlite_rows(path, start, end), start, end)


def backtest_vector(
    program: Program,
    path: str,
    start: float,
    end: float,
    checked: CheckedProgram | None = None,
    workers: int = 1,
) -> BacktestReport | None:
    """The vectorized backtest of a SQLite history, or None when the rules or data need the engine.

    With `workers` > 1 a large history is split by thing over that many processes.
    """
    from centinela.rules.vector_expr import NotVectorizable  # noqa: PLC0415 - numpy only when used
    from centinela.rules.vector_parallel import replay_sqlite  # noqa: PLC0415
    from centinela.rules.vector_sqlite import checked_for  # noqa: PLC0415

    _check_readable(path)
    checked = checked if checked is not None else checked_for(program)
    if checked is None:
        log.info("The vectorized backtest needs the rules' source files; replaying through the engine.")
        return None
    try:
        result = replay_sqlite(program, checked, path, start, end, workers=workers)
    except NotVectorizable as exc:
        log.info("Replaying through the engine: %s", exc)
        return None
    report = BacktestReport(start, end, result.readings, computed=result.rows, vectorized=True)
    report.transitions = result.transitions
    summarise(report)
    return report


def _check_readable(path: str) -> None:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            conn.execute("SELECT 1 FROM telemetry LIMIT 1").fetchall()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        msg = f"The history file {path!r} cannot be read as a Centinela SQLite history: {exc}."
        raise BacktestError(msg) from exc


def _report(replayer: Replayer, start: float, end: float) -> BacktestReport:
    report = BacktestReport(
        start, end, replayer.readings, out_of_order=replayer.engine.out_of_order, computed=replayer.out.rows
    )
    report.transitions = [a for a in replayer.out.alarms if start <= a.time <= end]
    summarise(report)
    return report
