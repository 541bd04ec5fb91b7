"""SQLite history store: the `telemetry` and `alarm_events` tables, batched upserting writes."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

from centinela.errors import HistoryError
from centinela.infra.sqlite_db import SqliteWorker, sqlite_path
from centinela.ports import AlarmRecord, Sample

__all__ = ["SqliteHistoryStore"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS telemetry (
    time REAL NOT NULL, thing_id TEXT NOT NULL, path TEXT NOT NULL, value REAL, value_json TEXT,
    PRIMARY KEY (thing_id, path, time)
);
CREATE INDEX IF NOT EXISTS telemetry_time ON telemetry (time);
CREATE TABLE IF NOT EXISTS alarm_events (
    time REAL NOT NULL, alarm_id TEXT PRIMARY KEY, thing_id TEXT NOT NULL, rule TEXT NOT NULL,
    state TEXT NOT NULL, severity TEXT NOT NULL, value REAL, message TEXT NOT NULL, details TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alarm_events_time ON alarm_events (time);
"""

_UPSERT_SAMPLE = (
    "INSERT INTO telemetry (time, thing_id, path, value, value_json) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (thing_id, path, time) DO UPDATE SET value = excluded.value, "
    "value_json = excluded.value_json"
)
_INSERT_ALARM = "INSERT OR IGNORE INTO alarm_events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"


class SqliteHistoryStore:
    """A `HistoryStore` in SQLite (`sqlite:///path`).

    Writes are buffered and committed in one transaction when `batch_rows` rows are waiting or the
    oldest waited `batch_seconds`, or on `flush()`. The same (thing, path, time) keeps one row; the
    same alarm id keeps its first row, so replaying effects after a restart adds nothing.
    """

    def __init__(self, url: str, *, batch_rows: int = 5000, batch_seconds: float = 2.0) -> None:
        self._db = SqliteWorker(sqlite_path(url), SCHEMA)
        self.batch_rows = batch_rows
        self.batch_seconds = batch_seconds
        self._samples: list[tuple[Any, ...]] = []
        self._alarms: list[tuple[Any, ...]] = []
        self._oldest: float | None = None
        self.rows_written = 0

    async def write_samples(self, samples: Sequence[Sample]) -> None:
        self._samples.extend(
            (s.time, s.thing_id, s.path, s.value, None if s.value_json is None else json.dumps(s.value_json))
            for s in samples
        )
        await self._maybe_flush()

    async def write_alarms(self, records: Sequence[AlarmRecord]) -> None:
        self._alarms.extend(
            (
                r.time,
                r.alarm_id,
                r.thing_id,
                r.rule,
                r.state,
                r.severity,
                r.value,
                r.message,
                json.dumps(dict(r.details), sort_keys=True),
            )
            for r in records
        )
        await self._maybe_flush()

    async def _maybe_flush(self) -> None:
        if self._oldest is None:
            self._oldest = time.monotonic()
        pending = len(self._samples) + len(self._alarms)
        if pending >= self.batch_rows or time.monotonic() - self._oldest >= self.batch_seconds:
            await self.flush()

    async def flush(self) -> None:
        samples, alarms = self._samples, self._alarms
        self._samples, self._alarms, self._oldest = [], [], None
        if not samples and not alarms:
            return

        def tx(conn: sqlite3.Connection) -> None:
            try:
                conn.execute("BEGIN")
                conn.executemany(_UPSERT_SAMPLE, samples)
                conn.executemany(_INSERT_ALARM, alarms)
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                conn.execute("ROLLBACK")
                msg = (
                    f"Writing {len(samples)} samples and {len(alarms)} alarm events to SQLite failed: {exc}."
                )
                raise HistoryError(msg) from exc

        try:
            await self._db.run(tx)
        except HistoryError:
            self._samples[:0], self._alarms[:0] = samples, alarms  # keep them for the next attempt
            raise
        self.rows_written += len(samples) + len(alarms)

    async def query(
        self, thing_id: str, path: str, start: float, end: float, *, bucket: float | None = None
    ) -> list[tuple[float, float | None]]:
        if bucket is not None and bucket <= 0:
            msg = f"The history bucket must be a positive number of seconds, not {bucket}."
            raise HistoryError(msg)

        def q(conn: sqlite3.Connection) -> list[tuple[float, float | None]]:
            if bucket is None:
                sql = (
                    "SELECT time, value FROM telemetry WHERE thing_id = ? AND path = ? AND time >= ? "
                    "AND time < ? ORDER BY time"
                )
                return [(float(t), v) for t, v in conn.execute(sql, (thing_id, path, start, end))]
            sql = (
                "SELECT CAST((time - ?) / ? AS INTEGER) AS b, AVG(value) FROM telemetry WHERE thing_id = ? "
                "AND path = ? AND time >= ? AND time < ? GROUP BY b ORDER BY b"
            )
            rows = conn.execute(sql, (start, bucket, thing_id, path, start, end))
            return [(start + b * bucket, v) for b, v in rows]

        return await self._db.run(q)

    async def replay(
        self, start: float, end: float, *, thing_ids: Sequence[str] | None = None
    ) -> AsyncIterator[Sample]:
        sql = "SELECT time, thing_id, path, value, value_json FROM telemetry WHERE time >= ? AND time < ?"
        args: list[Any] = [start, end]
        if thing_ids:
            sql += f" AND thing_id IN ({','.join('?' * len(thing_ids))})"
            args.extend(thing_ids)
        sql += " ORDER BY time, thing_id, path"
        cursor = await self._db.run(lambda conn: conn.execute(sql, args))
        try:
            while True:
                rows = await self._db.run(lambda _conn: cursor.fetchmany(20000))
                for t, thing, path, value, value_json in rows:
                    yield Sample(
                        float(t), thing, path, value, None if value_json is None else json.loads(value_json)
                    )
                if not rows:
                    return
        finally:
            await self._db.run(lambda _conn: cursor.close())

    async def alarms(self, start: float, end: float) -> list[AlarmRecord]:
        """Alarm transitions stored between `start` and `end`, in time order."""

        def q(conn: sqlite3.Connection) -> list[AlarmRecord]:
            rows = conn.execute(
                "SELECT * FROM alarm_events WHERE time >= ? AND time < ? ORDER BY time, alarm_id",
                (start, end),
            )
            return [
                AlarmRecord(t, a, th, r, st, sv, v, m, json.loads(d)) for t, a, th, r, st, sv, v, m, d in rows
            ]

        return await self._db.run(q)

    async def aclose(self) -> None:
        try:
            await self.flush()
        finally:
            await self._db.aclose()
