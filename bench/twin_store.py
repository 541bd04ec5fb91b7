"""Embedded twin store: merges/s in memory and on SQLite (with event-loop lag), and event fan-out.

Baselines run in the same process: plain `merge_patch` on dicts (the least work a merge can be)
for the in-memory store, and raw batched `sqlite3` upserts of the same rows for SQLite.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import tempfile
import time
from pathlib import Path

from centinela.twin.merge import merge_patch
from centinela.twin.persistence import SqlitePersistence
from centinela.twin.store import EmbeddedTwinStore

THINGS = 10_000
MERGES = 50_000
WRITERS = 64
SUBSCRIBERS = 10


def _patch(i: int) -> dict[str, object]:
    return {"properties": {"tubing": 100.0 + i % 50, "casing": i % 7}}


def _thing(i: int) -> dict[str, object]:
    return {"attributes": {"site": f"pad-{i % 20}"}, "features": {"pressure": _patch(i)}}


def baseline_dicts(n: int) -> float:
    things = {f"bench:w{i}": {"thingId": f"bench:w{i}", **_thing(i)} for i in range(THINGS)}
    start = time.perf_counter()
    for i in range(n):
        tid = f"bench:w{i % THINGS}"
        things[tid] = merge_patch(things[tid], {"features": {"pressure": _patch(i)}})
    return n / (time.perf_counter() - start)


async def _fill(store: EmbeddedTwinStore) -> None:
    for i in range(THINGS):
        await store.put(f"bench:w{i}", "/", _thing(i))


async def ours_memory(n: int) -> float:
    async with EmbeddedTwinStore() as store:
        await _fill(store)
        start = time.perf_counter()
        for i in range(n):
            await store.merge(f"bench:w{i % THINGS}", "/features/pressure", _patch(i))
        return n / (time.perf_counter() - start)


async def _lag_probe(stop: asyncio.Event, lags: list[float]) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        before = loop.time()
        await asyncio.sleep(0.001)
        lags.append(loop.time() - before - 0.001)


async def ours_sqlite(n: int, folder: Path) -> tuple[float, float, int]:
    persistence = SqlitePersistence(folder / "ours.db")
    async with EmbeddedTwinStore(persistence) as store:
        await _fill(store)
        stop, lags = asyncio.Event(), []
        probe = asyncio.create_task(_lag_probe(stop, lags))
        before = persistence.transactions

        async def writer(w: int) -> None:
            for i in range(w, n, WRITERS):
                await store.merge(f"bench:w{i % THINGS}", "/features/pressure", _patch(i))

        start = time.perf_counter()
        await asyncio.gather(*(writer(w) for w in range(WRITERS)))
        elapsed = time.perf_counter() - start
        stop.set()
        await probe
        lags.sort()
        return n / elapsed, lags[int(len(lags) * 0.99)] * 1000, persistence.transactions - before


async def idle_lag() -> float:
    """The event-loop lag the probe sees with nothing else running: the machine's noise floor."""
    stop, lags = asyncio.Event(), []
    probe = asyncio.create_task(_lag_probe(stop, lags))
    await asyncio.sleep(1.0)
    stop.set()
    await probe
    lags.sort()
    return lags[int(len(lags) * 0.99)] * 1000


def baseline_sqlite(n: int, folder: Path) -> float:
    conn = sqlite3.connect(folder / "base.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE things (thing_id TEXT PRIMARY KEY, revision INTEGER, thing TEXT)")
    batch = WRITERS
    start = time.perf_counter()
    for first in range(0, n, batch):
        rows = [
            (f"bench:w{i % THINGS}", i, json.dumps({"thingId": f"bench:w{i}", **_thing(i)}))
            for i in range(first, min(first + batch, n))
        ]
        conn.execute("BEGIN")
        conn.executemany("INSERT OR REPLACE INTO things VALUES (?, ?, ?)", rows)
        conn.execute("COMMIT")
    rate = n / (time.perf_counter() - start)
    conn.close()
    return rate


async def fanout(n: int) -> float:
    async with EmbeddedTwinStore(queue_size=256) as store:
        await _fill(store)
        subs = [store.subscribe() for _ in range(SUBSCRIBERS)]

        async def consume(sub: object) -> int:
            count = 0
            async for _ in sub:  # type: ignore[attr-defined]
                count += 1
                if count == n:
                    return count
            return count

        consumers = [asyncio.create_task(consume(s)) for s in subs]
        start = time.perf_counter()
        for i in range(n):
            await store.merge(f"bench:w{i % THINGS}", "/features/pressure", _patch(i))
        delivered = sum(await asyncio.gather(*consumers))
        return delivered / (time.perf_counter() - start)


def baseline_search(things: list[dict[str, object]], repeat: int) -> float:
    """Searches/s of a hand-written Python filter over plain dicts (what RQL compiles to, at best)."""
    start = time.perf_counter()
    for _ in range(repeat):
        hits = [
            t
            for t in things
            if t["features"]["pressure"]["properties"]["tubing"] > 140  # type: ignore[index]
        ]
        hits.sort(key=lambda t: t["thingId"])  # type: ignore[arg-type, return-value]
        hits[:25]
    return repeat / (time.perf_counter() - start)


async def ours_search(repeat: int) -> tuple[float, float]:
    async with EmbeddedTwinStore() as store:
        await _fill(store)
        plain = [await store.retrieve(f"bench:w{i}") for i in range(THINGS)]
        start = time.perf_counter()
        for _ in range(repeat):
            await store.search_page(filter="gt(features/pressure/properties/tubing,140)", option="size(25)")
        return repeat / (time.perf_counter() - start), baseline_search(plain, repeat)


async def main() -> None:
    base_mem = baseline_dicts(MERGES)
    mem = await ours_memory(MERGES)
    idle_ms = await idle_lag()
    with tempfile.TemporaryDirectory() as tmp:
        sql, lag_ms, transactions = await ours_sqlite(MERGES // 2, Path(tmp))
        base_sql = baseline_sqlite(MERGES // 2, Path(tmp))
    fan = await fanout(MERGES // 5)
    search, base_search = await ours_search(20)
    print(f"things: {THINGS}")
    print(f"memory store merges/s:   {mem:12,.0f}   (plain dict merge_patch baseline: {base_mem:12,.0f})")
    print(
        f"sqlite store merges/s:   {sql:12,.0f}   ({WRITERS} writers, {transactions} transactions, "
        f"p99 event-loop lag {lag_ms:.1f} ms, idle {idle_ms:.1f} ms; raw sqlite3 baseline: {base_sql:,.0f})"
    )
    print(f"event fan-out to {SUBSCRIBERS} subscribers: {fan:,.0f} events delivered/s")
    print(
        f"search pages/s over {THINGS} things: {search:,.1f} "
        f"(hand-written Python filter baseline: {base_search:,.1f})"
    )
    print(
        json.dumps(
            {
                "bench": "twin_store",
                "ours_per_s": round(mem),
                "baseline_per_s": round(base_mem),
                "ratio": round(mem / base_mem, 3),
                "sqlite_per_s": round(sql),
                "sqlite_baseline_per_s": round(base_sql),
                "sqlite_ratio": round(sql / base_sql, 3),
                "sqlite_p99_loop_lag_ms": round(lag_ms, 2),
                "idle_p99_loop_lag_ms": round(idle_ms, 2),
                "fanout_events_per_s": round(fan),
                "search_pages_per_s": round(search, 1),
                "search_baseline_per_s": round(base_search, 1),
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
