"""`PostgresHistoryStore`: the `HistoryStore` port on PostgreSQL / TimescaleDB (psycopg 3, binary COPY).

Writes are buffered and a background task flushes them every `flush_interval` seconds or
`batch_rows` rows, whichever comes first (up to `max_transaction_rows` per transaction); the COPY
streams to PostgreSQL while callers keep buffering. A batch is one transaction: rows are deduplicated on
(thing, path, time) (last wins), then binary-COPied straight into `telemetry`; when the batch meets
rows already stored (a redelivery), that COPY is rolled back to a savepoint and the batch goes
through a temporary staging table and `INSERT ... ON CONFLICT DO UPDATE` instead. Either way the
same (thing, path, time) keeps one row. Alarm transitions are inserted `ON CONFLICT DO NOTHING`.

While PostgreSQL is unreachable the buffer keeps every row, up to `max_buffer_rows` (rows being
written count too); past that, `write_*` waits (backpressure) until the server is back and the
buffer drains.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg.types.json import Jsonb

from centinela.errors import HistoryError
from centinela.infra.postgres_schema import AGGREGATES, Retention, migrate
from centinela.ports import AlarmRecord, Sample

__all__ = ["PostgresHistoryStore"]

log = logging.getLogger(__name__)

_TELEMETRY_TYPES = ["timestamptz", "text", "text", "float8", "jsonb"]
_ALARM_TYPES = ["timestamptz", "text", "text", "text", "text", "text", "float8", "text", "jsonb"]
_COPY_TELEMETRY = "COPY telemetry (time, thing_id, path, value, value_json) FROM STDIN (FORMAT BINARY)"
_STAGE_TELEMETRY = (
    "CREATE TEMP TABLE IF NOT EXISTS centinela_stage_telemetry (LIKE telemetry) ON COMMIT DELETE ROWS"
)
_COPY_STAGE_TELEMETRY = (
    "COPY centinela_stage_telemetry (time, thing_id, path, value, value_json) FROM STDIN (FORMAT BINARY)"
)
_UPSERT_TELEMETRY = (
    "INSERT INTO telemetry (time, thing_id, path, value, value_json) "
    "SELECT time, thing_id, path, value, value_json FROM centinela_stage_telemetry "
    "ORDER BY thing_id, path, time ON CONFLICT (thing_id, path, time) DO UPDATE "
    "SET value = excluded.value, value_json = excluded.value_json"
)
_STAGE_ALARMS = (
    "CREATE TEMP TABLE IF NOT EXISTS centinela_stage_alarms (LIKE alarm_events) ON COMMIT DELETE ROWS"
)
_COPY_STAGE_ALARMS = "COPY centinela_stage_alarms FROM STDIN (FORMAT BINARY)"
_INSERT_ALARMS = (
    "INSERT INTO alarm_events SELECT * FROM centinela_stage_alarms ON CONFLICT (alarm_id) DO NOTHING"
)
_RAW = (
    "SELECT extract(epoch FROM time)::float8, value FROM telemetry WHERE thing_id = %s "
    "AND path = %s AND time >= to_timestamp(%s) AND time < to_timestamp(%s) ORDER BY time"
)
_BINNED = (
    "SELECT extract(epoch FROM date_bin(make_interval(secs => %s), time, to_timestamp(%s)))::float8 AS b, "
    "avg(value) FROM telemetry WHERE thing_id = %s AND path = %s "
    "AND time >= to_timestamp(%s) AND time < to_timestamp(%s) GROUP BY b ORDER BY b"
)
_AGGREGATED = {
    seconds: (
        f"SELECT extract(epoch FROM bucket)::float8, avg FROM {view} "  # noqa: S608 - fixed view names
        "WHERE thing_id = %s AND path = %s AND bucket >= to_timestamp(%s) AND bucket < to_timestamp(%s) "
        "AND count > 0 ORDER BY bucket"
    )
    for seconds, view in AGGREGATES.items()
}
_REPLAY_SELECT = "SELECT time, thing_id, path, value, value_json FROM telemetry "
_REPLAY_FIRST = _REPLAY_SELECT + "WHERE (time, thing_id, path) >= (%s, %s, %s) AND time < to_timestamp(%s)"
_REPLAY_NEXT = _REPLAY_SELECT + "WHERE (time, thing_id, path) > (%s, %s, %s) AND time < to_timestamp(%s)"
_ALARMS = (
    "SELECT time, alarm_id, thing_id, rule, state, severity, value, message, details FROM alarm_events "
    "WHERE time >= to_timestamp(%s) AND time < to_timestamp(%s) ORDER BY time, alarm_id"
)

Row = tuple[datetime, str, str, float | None, Any]


def _ts(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


class PostgresHistoryStore:
    """A `HistoryStore` on PostgreSQL. Open with `await PostgresHistoryStore.open(url)`."""

    def __init__(
        self,
        url: str,
        *,
        batch_rows: int = 5000,
        flush_interval: float = 2.0,
        max_buffer_rows: int = 500_000,
        flush_timeout: float = 60.0,
        max_transaction_rows: int = 100_000,
        timescale: bool | None = None,
        retention: Retention | None = None,
    ) -> None:
        self.url = url
        self.batch_rows = batch_rows
        self.flush_interval = flush_interval
        self.max_buffer_rows = max(max_buffer_rows, batch_rows)
        self.flush_timeout = flush_timeout
        self.max_transaction_rows = max(max_transaction_rows, 1)
        self.timescale: bool | None = timescale
        self._retention = retention or Retention()
        # Keyed by (thing, path, time at PostgreSQL's microsecond precision): last write wins.
        self._rows: dict[tuple[str, str, datetime], Row] = {}
        self._alarms: dict[str, tuple[Any, ...]] = {}
        self._writer: psycopg.AsyncConnection[Any] | None = None
        self._reader: psycopg.AsyncConnection[Any] | None = None
        self._read_lock = asyncio.Lock()
        self._write_lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._inflight = 0
        self.rows_written = 0
        self.last_error: BaseException | None = None

    @classmethod
    async def open(cls, url: str, **options: Any) -> PostgresHistoryStore:
        """Connect, create or migrate the schema, and start the background flusher."""
        store = cls(url, **options)
        conn = await store._connect()
        store.timescale = await migrate(conn, timescale=store.timescale, retention=store._retention)
        store._writer = conn
        store._task = asyncio.create_task(store._flusher(), name="postgres-history-flusher")
        return store

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        try:
            return await psycopg.AsyncConnection.connect(self.url, autocommit=True, connect_timeout=5)
        except psycopg.Error as exc:
            msg = f"PostgreSQL at {_safe(self.url)} cannot be reached: {exc}."
            raise HistoryError(msg) from exc

    # ------------------------------------------------------------------ buffering

    @property
    def buffered(self) -> int:
        """Rows not yet committed: waiting, or in the transaction being written."""
        return len(self._rows) + len(self._alarms) + self._inflight

    async def write_samples(self, samples: Sequence[Sample]) -> None:
        await self._admit()
        if not samples:
            return
        rows = self._rows
        last_time = samples[0].time  # readings of one poll or scan share a time: convert it once
        t = _ts(last_time)
        for s in samples:
            if s.time != last_time:
                last_time = s.time
                t = _ts(last_time)
            value_json = None if s.value_json is None else Jsonb(s.value_json)
            rows[(s.thing_id, s.path, t)] = (t, s.thing_id, s.path, s.value, value_json)
        await self._after_write()

    async def write_alarms(self, records: Sequence[AlarmRecord]) -> None:
        await self._admit()
        for r in records:
            self._alarms.setdefault(
                r.alarm_id,
                (_ts(r.time), r.alarm_id, r.thing_id, r.rule, r.state, r.severity, r.value, r.message,
                 Jsonb(dict(r.details))),
            )
        await self._after_write()

    async def _admit(self) -> None:
        """Backpressure: wait while the buffer is full (PostgreSQL slow or away)."""
        if self._closed:
            msg = "The PostgreSQL history store is closed; it accepts no more rows."
            raise HistoryError(msg)
        while self.buffered >= self.max_buffer_rows:
            self._drained.clear()
            self._wake.set()
            await self._drained.wait()

    async def _after_write(self) -> None:
        if self.buffered >= self.batch_rows and not self._write_lock.locked():
            # Let the flusher start its COPY now: it streams to PostgreSQL while we keep buffering.
            self._wake.set()
            await asyncio.sleep(0)

    # ------------------------------------------------------------------ flushing

    async def _flusher(self) -> None:
        backoff = 0.1
        while not self._closed:
            try:
                await asyncio.wait_for(self._wake.wait(), self.flush_interval)
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                await self._write_buffer()
                backoff = 0.1
            except HistoryError as exc:
                log.warning("history writer: %s; retrying in %.1f s with %d rows buffered", exc, backoff,
                            self.buffered)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
                self._wake.set()

    async def flush(self) -> None:
        """Return once every buffered row is committed.

        While PostgreSQL is away this retries for up to `flush_timeout` seconds, then raises
        `HistoryError`; the rows stay buffered.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.flush_timeout
        backoff = 0.05
        while True:
            try:
                await self._write_buffer()
                if not self.buffered:
                    return
            except HistoryError:
                if loop.time() + backoff > deadline:
                    raise
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 1.0)

    async def _write_buffer(self) -> None:
        async with self._write_lock:
            while self._rows or self._alarms:
                rows = self._take_rows()
                alarms = list(self._alarms.values())
                self._alarms.clear()
                self._inflight = len(rows) + len(alarms)
                try:
                    await self._write_batch(rows, alarms)
                except (psycopg.Error, HistoryError) as exc:
                    self._inflight = 0
                    self._restore(rows, alarms)
                    self.last_error = exc
                    await self._drop_writer()
                    msg = (
                        f"Writing {len(rows)} samples and {len(alarms)} alarm events to PostgreSQL failed: "
                        f"{str(exc).strip().rstrip('.')}."
                    )
                    raise HistoryError(msg) from exc
                self._inflight = 0
                self.rows_written += len(rows) + len(alarms)
                if self.buffered < self.max_buffer_rows:
                    self._drained.set()

    def _take_rows(self) -> list[Row]:
        """The next transaction's rows: everything buffered, up to `max_transaction_rows`."""
        if len(self._rows) <= self.max_transaction_rows:
            rows = list(self._rows.values())
            self._rows = {}
            return rows
        keys = list(self._rows)[: self.max_transaction_rows]
        return [self._rows.pop(k) for k in keys]

    def _restore(self, rows: list[Row], alarms: list[tuple[Any, ...]]) -> None:
        """Put a failed batch back, without overwriting newer values written meanwhile."""
        newer = self._rows
        self._rows = {(r[1], r[2], r[0]): r for r in rows}
        self._rows.update(newer)
        for a in alarms:
            self._alarms.setdefault(a[1], a)

    async def _drop_writer(self) -> None:
        conn, self._writer = self._writer, None
        if conn is not None:
            try:
                await conn.close()
            except psycopg.Error:
                pass

    async def _write_batch(self, rows: list[Row], alarms: list[tuple[Any, ...]]) -> None:
        if self._writer is None or self._writer.closed:
            self._writer = await self._connect()
        conn = self._writer
        async with conn.transaction():
            if rows:
                try:
                    async with conn.transaction():  # a savepoint: undone alone on a duplicate
                        await _copy(conn, _COPY_TELEMETRY, _TELEMETRY_TYPES, rows)
                except pg_errors.UniqueViolation:
                    await _upsert_rows(conn, rows)
            if alarms:
                await conn.execute(_STAGE_ALARMS)
                await _copy(conn, _COPY_STAGE_ALARMS, _ALARM_TYPES, alarms)
                await conn.execute(_INSERT_ALARMS)

    # ------------------------------------------------------------------ reading

    async def _read(self, sql: str, args: Sequence[Any]) -> list[tuple[Any, ...]]:
        async with self._read_lock:
            for attempt in (1, 2):
                try:
                    if self._reader is None or self._reader.closed:
                        self._reader = await self._connect()
                    cur = await self._reader.execute(sql.encode(), args)
                    return await cur.fetchall()
                except psycopg.OperationalError as exc:
                    self._reader = None
                    if attempt == 2:
                        msg = f"Reading history from PostgreSQL at {_safe(self.url)} failed: {exc}."
                        raise HistoryError(msg) from exc
                except psycopg.Error as exc:
                    msg = f"Reading history from PostgreSQL failed: {exc}."
                    raise HistoryError(msg) from exc
        return []  # pragma: no cover - the loop returns or raises

    async def query(
        self, thing_id: str, path: str, start: float, end: float, *, bucket: float | None = None
    ) -> list[tuple[float, float | None]]:
        """Raw `(time, value)` pairs, or `bucket`-second averages of buckets aligned on `start`."""
        if bucket is None:
            return [(t, v) for t, v in await self._read(_RAW, (thing_id, path, start, end))]
        if not bucket > 0:
            msg = f"The history bucket must be a positive number of seconds, not {bucket}."
            raise HistoryError(msg)
        # TimescaleDB's continuous aggregates serve 1m/5m/1h buckets aligned like the query's.
        args: tuple[Any, ...]
        if self.timescale and bucket in _AGGREGATED and start % bucket == 0:
            sql, args = _AGGREGATED[bucket], (thing_id, path, start, end)
        else:
            sql, args = _BINNED, (bucket, start, thing_id, path, start, end)
        return [(t, v) for t, v in await self._read(sql, args)]

    async def replay(
        self, start: float, end: float, *, thing_ids: Sequence[str] | None = None
    ) -> AsyncIterator[Sample]:
        """Stored samples between `start` and `end` in time order, read page by page (keyset)."""
        after: tuple[Any, ...] = (_ts(start), "", "")
        first = True
        while True:
            sql = _REPLAY_FIRST if first else _REPLAY_NEXT
            args: list[Any] = [*after, end]
            if thing_ids:
                sql += " AND thing_id = ANY(%s)"
                args.append(list(thing_ids))
            sql += " ORDER BY time, thing_id, path LIMIT 20000"
            rows = await self._read(sql, args)
            for t, thing, path, value, value_json in rows:
                yield Sample(t.timestamp(), thing, path, value, value_json)
            if len(rows) < 20000:
                return
            after, first = tuple(rows[-1][:3]), False

    async def alarms(self, start: float, end: float) -> list[AlarmRecord]:
        """Alarm transitions stored between `start` and `end`, in time order."""
        rows = await self._read(_ALARMS, (start, end))
        return [
            AlarmRecord(t.timestamp(), a, th, r, st, sv, v, m, d) for t, a, th, r, st, sv, v, m, d in rows
        ]

    async def purge(self, before: float) -> int:
        """Delete raw rows older than `before` (plain PostgreSQL; TimescaleDB has retention policies)."""
        async with self._write_lock:
            if self._writer is None or self._writer.closed:
                self._writer = await self._connect()
            cur = await self._writer.execute("DELETE FROM telemetry WHERE time < to_timestamp(%s)", (before,))
            return cur.rowcount

    async def aclose(self) -> None:
        if self._closed:
            return
        try:
            await self.flush()
        finally:
            self._closed = True
            self._wake.set()
            if self._task is not None:
                self._task.cancel()
                await asyncio.gather(self._task, return_exceptions=True)
            await self._drop_writer()
            if self._reader is not None:
                await self._reader.close()


async def _copy(conn: psycopg.AsyncConnection[Any], sql: str, types: list[str], rows: Sequence[Any]) -> None:
    async with conn.cursor().copy(sql.encode()) as copy:
        copy.set_types(types)
        for row in rows:
            await copy.write_row(row)


async def _upsert_rows(conn: psycopg.AsyncConnection[Any], rows: list[Row]) -> None:
    await conn.execute(_STAGE_TELEMETRY)
    await _copy(conn, _COPY_STAGE_TELEMETRY, _TELEMETRY_TYPES, rows)
    await conn.execute(_UPSERT_TELEMETRY)


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    head, sep, tail = url.rpartition("@")
    if not sep:
        return url
    scheme, _, userinfo = head.partition("://")
    return f"{scheme}://{userinfo.split(':', 1)[0]}@{tail}"
