"""PostgresHistoryStore on a real PostgreSQL: redelivery, batching, buckets, migrations, Timescale DDL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import psycopg
import pytest
from service_urls import postgres_schema_url

from centinela.infra.postgres_history import PostgresHistoryStore
from centinela.infra.postgres_schema import SCHEMA_VERSION, migrate, plain_ddl, timescale_ddl
from centinela.ports import AlarmRecord, Sample

pytestmark = pytest.mark.integration

P = "/features/pressure/properties/tubing"


@pytest.fixture
def url(postgres_url: str) -> str:
    return postgres_schema_url()


@pytest.fixture
async def store(url: str) -> AsyncIterator[PostgresHistoryStore]:
    instance = await PostgresHistoryStore.open(url, batch_rows=1000, flush_interval=0.2)
    yield instance
    await instance.aclose()


async def _count(url: str, sql: str = "SELECT count(*), count(DISTINCT (thing_id, path, time)) FROM telemetry"
                 ) -> tuple[int, ...]:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        cur = await conn.execute(sql.encode())
        row = await cur.fetchone()
        assert row is not None
        return tuple(row)


async def test_redelivered_batch_upserts_without_duplicates(store: PostgresHistoryStore, url: str) -> None:
    first = [Sample(1000.0 + i * 0.5, f"ns:w{i % 7}", P, float(i)) for i in range(3000)]
    await store.write_samples(first)
    await store.flush()
    # A redelivery: the same keys again (new values) mixed with new rows, in one batch.
    again = [Sample(s.time, s.thing_id, s.path, -s.value) for s in first[:2000] if s.value is not None]
    fresh = [Sample(5000.0 + i, "ns:new", P, float(i)) for i in range(500)]
    await store.write_samples(again + fresh)
    await store.flush()
    assert await _count(url) == (3500, 3500)
    rows = await store.query("ns:w0", P, 0.0, 10_000.0)
    assert rows[:3] == [(1000.0, -0.0), (1003.5, -7.0), (1007.0, -14.0)]
    assert rows[-1] == (1000.0 + 2996 * 0.5, 2996.0)  # beyond the redelivered part: unchanged
    assert store.rows_written == 5500


async def test_background_flush_by_rows_and_by_time(url: str) -> None:
    store = await PostgresHistoryStore.open(url, batch_rows=100, flush_interval=0.3)
    try:
        await store.write_samples([Sample(float(i), "ns:a", P, float(i)) for i in range(150)])
        # Past batch_rows: the flusher writes without an explicit flush(); then the rest by time.
        for _ in range(100):
            if (await _count(url))[0] == 150:
                break
            await asyncio.sleep(0.05)
        assert (await _count(url))[0] == 150
        assert store.buffered == 0
    finally:
        await store.aclose()


async def test_buckets_align_on_start_and_average(store: PostgresHistoryStore) -> None:
    await store.write_samples([Sample(600.0 + t, "ns:a", P, float(t)) for t in range(0, 300, 10)])
    await store.flush()
    # 2-minute buckets from t=630: [630,750) [750,870) [870,900)
    got = await store.query("ns:a", P, 630.0, 900.0, bucket=120.0)
    assert got == [(630.0, sum(range(30, 150, 10)) / 12), (750.0, sum(range(150, 270, 10)) / 12),
                   (870.0, 280.0)]
    assert [t for t, _ in await store.query("ns:a", P, 600.0, 900.0, bucket=60.0)] == [600.0, 660.0, 720.0,
                                                                                         780.0, 840.0]


async def test_alarm_journal_and_replay_of_json_values(store: PostgresHistoryStore) -> None:
    alarm = AlarmRecord(7.25, "a-1", "ns:a", "HighTubing", "active", "critical", 3100.5, "High tubing.",
                        {"threshold": 3000, "rule_file": "w.rules"})
    await store.write_alarms([alarm, alarm])
    await store.write_samples([Sample(1.0, "ns:a", "/attributes/status", None, {"mode": "flowing"})])
    await store.flush()
    await store.write_alarms([alarm])  # redelivered in a later batch
    await store.flush()
    assert await store.alarms(0.0, 10.0) == [alarm]
    assert [s async for s in store.replay(0.0, 2.0)] == [
        Sample(1.0, "ns:a", "/attributes/status", None, {"mode": "flowing"})
    ]


async def test_migrations_are_idempotent_and_concurrent(url: str) -> None:
    conns = [await psycopg.AsyncConnection.connect(url, autocommit=True) for _ in range(3)]
    try:
        used = await asyncio.gather(*(migrate(c, timescale=False) for c in conns))
        assert used == [False, False, False]
        cur = await conns[0].execute("SELECT version FROM centinela_schema")
        assert await cur.fetchall() == [(SCHEMA_VERSION,)]
    finally:
        for c in conns:
            await c.close()


async def _syntax_error(conn: psycopg.AsyncConnection[object], statement: str) -> str | None:
    """PostgreSQL's parser on `statement`, without executing it.

    PL/pgSQL parses every SQL statement of a function body when the function is created, but
    resolves names (functions, tables, storage parameters) only when it runs. So this catches
    syntax errors only: it says nothing about whether TimescaleDB accepts the arguments.
    """
    body = statement.replace("$centinela$", "")
    try:
        async with conn.transaction(force_rollback=True):
            await conn.execute(
                f"CREATE FUNCTION pg_temp.ddl_check() RETURNS void LANGUAGE plpgsql AS "
                f"$centinela$ BEGIN {body}; END $centinela$".encode()
            )
    except psycopg.errors.SyntaxError as exc:
        return str(exc)
    return None


async def test_timescale_ddl_parses(postgres_url: str) -> None:
    async with await psycopg.AsyncConnection.connect(postgres_url, autocommit=True) as conn:
        # The check can fail: a broken statement is reported.
        broken = "SELECT create_hypertable('telemetry', by_range('time'),)"
        assert await _syntax_error(conn, broken) is not None
        statements = timescale_ddl() + plain_ddl()
        assert len(statements) >= 14
        problems = {s: await _syntax_error(conn, s) for s in statements}
        assert {s: p for s, p in problems.items() if p} == {}
