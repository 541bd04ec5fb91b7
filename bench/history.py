"""History writer throughput on PostgreSQL: PostgresHistoryStore vs `psql \\copy ... (FORMAT binary)`.

Both load the same rows into the same empty `telemetry` table (primary key on thing, path, time),
in the same run, alternately, best of ROUNDS each. Ours is measured from readings in memory
(`Sample`s handed over in chunks of 10,000, as the engine would) to committed rows (`flush()`
returned); the baseline from an already-encoded binary file to committed rows. Target: ≥ 80 %.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from _services import require

from centinela.infra.postgres_history import PostgresHistoryStore
from centinela.ports import Sample

ROWS = int(os.environ.get("BENCH_ROWS", "300000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
CHUNK = 10_000


def _samples() -> list[Sample]:
    things = [f"org.acme.field:well-{i}" for i in range(50)]
    paths = [f"/features/sensor{j}/properties/value" for j in range(20)]
    series = [(t, p) for t in things for p in paths]
    start = 1_767_225_600.0
    return [
        Sample(start + (i // len(series)) * 0.1, *series[i % len(series)], float(i % 9973) * 0.5)
        for i in range(ROWS)
    ]


async def _ours(url: str, samples: list[Sample]) -> float:
    store = await PostgresHistoryStore.open(url, batch_rows=5000, flush_interval=1.0)
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute("TRUNCATE telemetry")
        await conn.execute("CHECKPOINT")
    began = time.perf_counter()
    for i in range(0, len(samples), CHUNK):
        await store.write_samples(samples[i : i + CHUNK])
    await store.flush()
    elapsed = time.perf_counter() - began
    await store.aclose()
    return elapsed


def _psql(url: str, command: str) -> None:
    psql = shutil.which("psql")
    assert psql, "psql is needed for the baseline"
    subprocess.run([psql, url, "-q", "-v", "ON_ERROR_STOP=1", "-c", command], check=True)


async def _baseline(url: str, data: Path) -> float:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute("TRUNCATE telemetry")
        await conn.execute("CHECKPOINT")
    began = time.perf_counter()
    command = f"\\copy telemetry (time, thing_id, path, value, value_json) FROM '{data}' (FORMAT binary)"
    await asyncio.to_thread(_psql, url, command)
    return time.perf_counter() - began


async def main() -> None:
    base = require("postgres", "history")
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    async with await psycopg.AsyncConnection.connect(base, autocommit=True) as conn:
        await conn.execute(f"CREATE SCHEMA {schema}".encode())
    url = f"{base}?options=-csearch_path%3D{schema}"
    folder = Path(tempfile.mkdtemp(prefix="centinela-bench-"))
    try:
        samples = _samples()
        ours_times, base_times = [], []
        ours_times.append(await _ours(url, samples))
        # The baseline's input: the very rows ours wrote, in PostgreSQL's binary COPY format.
        data = folder / "rows.bin"
        _psql(url, f"\\copy (SELECT time, thing_id, path, value, value_json FROM telemetry) TO '{data}' "
                   "(FORMAT binary)")
        for _ in range(ROUNDS):
            base_times.append(await _baseline(url, data))
            if len(ours_times) < ROUNDS:
                ours_times.append(await _ours(url, samples))
        async with await psycopg.AsyncConnection.connect(url) as conn:
            cur = await conn.execute("SELECT count(*) FROM telemetry")
            row = await cur.fetchone()
            assert row is not None and row[0] == ROWS
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        async with await psycopg.AsyncConnection.connect(base, autocommit=True) as conn:
            await conn.execute(f"DROP SCHEMA {schema} CASCADE".encode())
    ours = ROWS / min(ours_times)
    baseline = ROWS / min(base_times)
    print(f"rows: {ROWS}, rounds: {ROUNDS}")
    print(f"ours (PostgresHistoryStore): {ours:,.0f} rows/s, runs {[round(t, 2) for t in ours_times]} s")
    print(f"psql \\copy binary:           {baseline:,.0f} rows/s, runs {[round(t, 2) for t in base_times]} s")
    print(json.dumps({"bench": "history", "ours_per_s": round(ours), "baseline_per_s": round(baseline),
                      "ratio": round(ours / baseline, 3)}))


if __name__ == "__main__":
    asyncio.run(main())
