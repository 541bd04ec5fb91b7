"""History schema on PostgreSQL: SQLAlchemy Core tables, versioned migrations and the TimescaleDB DDL.

Plain PostgreSQL gets `telemetry` (primary key `(thing_id, path, time)`, which is also the
upsert target) and `alarm_events` (primary key `alarm_id`: transitions carry deterministic ids).
When the `timescaledb` extension is available, `telemetry` becomes a hypertable with continuous
aggregates `telemetry_1m` / `_5m` / `_1h`, compression and retention policies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from sqlalchemy import (
    TIMESTAMP,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.schema import CreateIndex, CreateTable

__all__ = [
    "AGGREGATES",
    "SCHEMA_VERSION",
    "Retention",
    "alarm_events",
    "metadata",
    "migrate",
    "plain_ddl",
    "timescale_available",
    "timescale_ddl",
]

metadata = MetaData()

telemetry = Table(
    "telemetry",
    metadata,
    Column("time", TIMESTAMP(timezone=True), nullable=False),
    Column("thing_id", Text, nullable=False),
    Column("path", Text, nullable=False),
    Column("value", Float(precision=53)),
    Column("value_json", JSONB),
    PrimaryKeyConstraint("thing_id", "path", "time", name="telemetry_pkey"),
)
Index("telemetry_time_idx", telemetry.c.time)

alarm_events = Table(
    "alarm_events",
    metadata,
    Column("time", TIMESTAMP(timezone=True), nullable=False),
    Column("alarm_id", Text, primary_key=True),
    Column("thing_id", Text, nullable=False),
    Column("rule", Text, nullable=False),
    Column("state", Text, nullable=False),
    Column("severity", Text, nullable=False),
    Column("value", Float(precision=53)),
    Column("message", Text, nullable=False),
    Column("details", JSONB, nullable=False),
)
Index("alarm_events_time_idx", alarm_events.c.time)
Index("alarm_events_thing_idx", alarm_events.c.thing_id, alarm_events.c.time)

schema_version = Table(
    "centinela_schema",
    metadata,
    Column("version", Integer, primary_key=True),
    Column("applied_at", TIMESTAMP(timezone=True), nullable=False),
)

SCHEMA_VERSION = 1
AGGREGATES: dict[float, str] = {60.0: "telemetry_1m", 300.0: "telemetry_5m", 3600.0: "telemetry_1h"}
"""Continuous aggregates by bucket width in seconds (TimescaleDB only)."""

_LOCK_ID = 0x43454E54  # advisory lock held while migrating: "CENT"


@dataclass(frozen=True, slots=True)
class Retention:
    """How long TimescaleDB keeps raw rows and aggregates, and when it compresses chunks (days)."""

    raw_days: int = 90
    aggregate_days: int = 730
    compress_after_days: int = 7
    chunk_days: int = 1


def _compile(statement: CreateTable | CreateIndex) -> str:
    return str(statement.compile(dialect=postgresql.dialect())).strip()  # type: ignore[no-untyped-call]


def plain_ddl() -> list[str]:
    """Idempotent DDL of the tables and indexes (plain PostgreSQL and before Timescale's)."""
    out: list[str] = []
    for table in metadata.sorted_tables:
        out.append(_compile(CreateTable(table, if_not_exists=True)))
        out.extend(_compile(CreateIndex(index, if_not_exists=True)) for index in table.indexes)
    return out


def timescale_ddl(retention: Retention | None = None) -> list[str]:
    """Idempotent TimescaleDB DDL: hypertable, continuous aggregates, compression, retention.

    Every name and number in it comes from this module or `Retention` (integers), never from input.
    """
    r = retention or Retention()
    out = [
        "CREATE EXTENSION IF NOT EXISTS timescaledb",
        "SELECT create_hypertable('telemetry', by_range('time', INTERVAL "
        f"'{r.chunk_days} days'), if_not_exists => TRUE, migrate_data => TRUE)",
    ]
    for seconds, view in AGGREGATES.items():
        width = f"INTERVAL '{int(seconds)} seconds'"
        out += [
            f"CREATE MATERIALIZED VIEW IF NOT EXISTS {view} WITH (timescaledb.continuous) AS "  # noqa: S608
            f"SELECT time_bucket({width}, time) AS bucket, thing_id, path, avg(value) AS avg, "
            "min(value) AS min, max(value) AS max, count(value) AS count "
            "FROM telemetry GROUP BY bucket, thing_id, path WITH NO DATA",
            f"SELECT add_continuous_aggregate_policy('{view}', start_offset => {width} * 120, "
            f"end_offset => {width}, schedule_interval => {width}, if_not_exists => TRUE)",
            f"SELECT add_retention_policy('{view}', INTERVAL '{r.aggregate_days} days', "
            "if_not_exists => TRUE)",
        ]
    out += [
        "ALTER TABLE telemetry SET (timescaledb.compress, timescaledb.compress_segmentby = 'thing_id, path', "
        "timescaledb.compress_orderby = 'time DESC')",
        f"SELECT add_compression_policy('telemetry', INTERVAL '{r.compress_after_days} days', "
        "if_not_exists => TRUE)",
        f"SELECT add_retention_policy('telemetry', INTERVAL '{r.raw_days} days', if_not_exists => TRUE)",
    ]
    return out


async def timescale_available(conn: psycopg.AsyncConnection[Any]) -> bool:
    """Whether the server can load the `timescaledb` extension (installed and preloaded)."""
    cur = await conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'")
    if await cur.fetchone() is None:
        return False
    cur = await conn.execute("SELECT current_setting('shared_preload_libraries')")
    row = await cur.fetchone()
    return row is not None and "timescaledb" in str(row[0])


async def migrate(
    conn: psycopg.AsyncConnection[Any],
    *,
    timescale: bool | None = None,
    retention: Retention | None = None,
) -> bool:
    """Bring the schema to `SCHEMA_VERSION`; return whether TimescaleDB is in use.

    Idempotent and safe to run from several writers at once (an advisory lock serialises them).
    `timescale=None` detects the extension.
    """
    use_timescale = await timescale_available(conn) if timescale is None else timescale
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_ID,))
        await _run(conn, plain_ddl())
        cur = await conn.execute("SELECT coalesce(max(version), 0) FROM centinela_schema")
        row = await cur.fetchone()
        current = int(row[0]) if row else 0
        if current < SCHEMA_VERSION:
            if use_timescale:
                await _run(conn, timescale_ddl(retention or Retention()))
            await conn.execute(
                "INSERT INTO centinela_schema (version, applied_at) VALUES (%s, now())", (SCHEMA_VERSION,)
            )
    return use_timescale


async def _run(conn: psycopg.AsyncConnection[Any], statements: Sequence[str]) -> None:
    for statement in statements:
        await conn.execute(statement.encode())
