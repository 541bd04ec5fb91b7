"""PostgreSQL stopped for 30 s while the history writer runs: it buffers up to its bound, holds the
producer's write call back for the whole outage (backpressure), then flushes everything once the server
is back — nothing lost, nothing duplicated. The test's own PostgreSQL, not the shared one."""

from __future__ import annotations

import asyncio

import psycopg
import pytest
from fault_servers import PrivateServices

from centinela.errors import HistoryError
from centinela.infra.postgres_history import PostgresHistoryStore
from centinela.ports import Sample

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(180)]

P = "/features/flow/properties/rate"
OUTAGE = 30.0  # seconds, as the scenario says
BOUND = 1000
CHUNK = 100


def _samples(start: int, count: int) -> list[Sample]:
    return [Sample(1_700_000_000.0 + i, f"ns:well-{i % 5}", P, float(i)) for i in range(start, start + count)]


async def test_writer_buffers_with_a_bound_through_a_30_s_outage_and_flushes_after(
    private: PrivateServices,
) -> None:
    url = await private.start("postgres")
    store = await PostgresHistoryStore.open(
        url, batch_rows=200, flush_interval=0.2, max_buffer_rows=BOUND, flush_timeout=1.0
    )
    loop = asyncio.get_running_loop()
    try:
        await store.write_samples(_samples(0, 500))
        await store.flush()
        assert store.buffered == 0

        await private.stop("postgres")
        stopped_at = loop.time()
        returned_at: list[float] = []  # when each write call returned

        async def producer() -> None:
            for chunk in range(20):  # 2000 rows: twice the buffer's bound
                await store.write_samples(_samples(500 + chunk * CHUNK, CHUNK))
                returned_at.append(loop.time())

        task = asyncio.create_task(producer())
        # Watch the whole outage: the buffer fills to its bound and stays there; the producer is held.
        peak = 0
        held_from: float | None = None
        while loop.time() - stopped_at < OUTAGE:
            await asyncio.sleep(0.25)
            peak = max(peak, store.buffered)
            assert store.buffered <= BOUND + CHUNK  # bounded: at most one admitted write past the bound
            if store.buffered >= BOUND and held_from is None:
                held_from = loop.time()
                writes_when_full = len(returned_at)
            if held_from is not None:
                assert len(returned_at) == writes_when_full  # no write call returns while the buffer is full
                assert not task.done()
        assert held_from is not None and held_from - stopped_at < 5.0  # filled early in the outage
        assert BOUND <= peak <= BOUND + CHUNK
        assert 0 < writes_when_full < 20
        with pytest.raises(HistoryError, match="PostgreSQL"):
            await store.flush()  # a flush while the server is away says so, and keeps the rows
        assert store.buffered >= BOUND

        await private.start("postgres")
        restarted_at = loop.time()
        await asyncio.wait_for(task, 60)  # the held write call returns once the buffer drains
        assert returned_at[writes_when_full] >= restarted_at
        assert returned_at[writes_when_full] - returned_at[writes_when_full - 1] >= OUTAGE - 5.0
        # A redelivery of rows written before the outage changes nothing.
        await store.write_samples(_samples(0, 300))
        await store.flush()
        assert store.buffered == 0
    finally:
        await store.aclose()

    async with await psycopg.AsyncConnection.connect(url) as conn:
        cur = await conn.execute(
            "SELECT count(*), count(DISTINCT (thing_id, path, time)), min(value), max(value), sum(value) "
            "FROM telemetry"
        )
        row = await cur.fetchone()
    assert row == (2500, 2500, 0.0, 2499.0, float(sum(range(2500))))
