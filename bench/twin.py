"""Twin store throughput: merges/s in process and over HTTP, and event fan-out to 10 subscribers.

Runs, in one process: a baseline (RFC 7396 merges into a plain dict of 10,000 things, the least
work a merge can cost), the embedded store in process (memory, SQLite awaiting each commit, SQLite
write-behind flushed at the end), event
fan-out to 10 in-process subscribers; then, with the twin service in a child process on a free
loopback port: merges by `DittoTwinStore` over HTTP and as pipelined WebSocket commands, by a
minimal keep-alive HTTP loader, and fan-out to 10 WebSocket subscribers.
Ends with one JSON line. Ditto's published figure is ~800 twin updates/s per connectivity instance.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from centinela.twin.client import DittoTwinStore
from centinela.twin.client_auth import DittoAuth
from centinela.twin.http import TwinServer, TwinServiceSettings
from centinela.twin.merge import merge_patch
from centinela.twin.persistence import SqlitePersistence
from centinela.twin.store import EmbeddedTwinStore

THINGS = 10_000
SUBSCRIBERS = 10
HTTP_CONCURRENCY = 4  # httpx's async client gains nothing from more in flight (measured: 32 → slower)
WS_MERGES = 2_000
WS_CONCURRENCY = 32
DITTO_PUBLISHED_PER_S = 800


def _thing(i: int) -> dict[str, Any]:
    return {
        "attributes": {"site": f"pad-{i % 20}", "well": i},
        "features": {"pump": {"properties": {"pressure": 100.0, "temperature": 60.0, "status": "on"}}},
    }


def _patch(i: int) -> dict[str, Any]:
    return {"features": {"pump": {"properties": {"pressure": 100.0 + i % 97, "temperature": 61.5}}}}


def _ids() -> list[str]:
    return [f"org.acme.bench:well-{i}" for i in range(THINGS)]


def baseline() -> float:
    """Merges/s into a plain dict, copying each thing as a store that shares no state must."""
    things = {tid: _thing(i) for i, tid in enumerate(_ids())}
    start = time.perf_counter()
    for i, tid in enumerate(things):
        things[tid] = merge_patch(copy.deepcopy(things[tid]), _patch(i))
    return THINGS / (time.perf_counter() - start)


async def _fill(store: EmbeddedTwinStore) -> None:
    for i, tid in enumerate(_ids()):
        await store.put(tid, "/", _thing(i))


async def in_process(persistence: str) -> float:
    """Merges/s by one writer; `sqlite-behind` counts the final flush (every merge durable)."""
    with tempfile.TemporaryDirectory() as tmp:
        if persistence == "memory":
            store = EmbeddedTwinStore()
        else:
            behind = persistence == "sqlite-behind"
            store = EmbeddedTwinStore(SqlitePersistence(Path(tmp) / "twins.db", write_behind=behind))
        async with store:
            await _fill(store)
            await store.flush()
            start = time.perf_counter()
            for i, tid in enumerate(_ids()):
                await store.merge(tid, "/", _patch(i))
            await store.flush()
            return THINGS / (time.perf_counter() - start)


async def fan_out_in_process() -> float:
    async with EmbeddedTwinStore(queue_size=1000) as store:
        await _fill(store)
        subs = [store.subscribe(namespaces=["org.acme.bench"]) for _ in range(SUBSCRIBERS)]

        async def drain(sub: Any) -> int:
            n = 0
            async for _ in sub:
                n += 1
                if n == THINGS:
                    break
            return n

        start = time.perf_counter()
        readers = [asyncio.create_task(drain(sub)) for sub in subs]
        for i, tid in enumerate(_ids()):
            await store.merge(tid, "/", _patch(i))
        counts = await asyncio.gather(*readers)
        elapsed = time.perf_counter() - start
        for sub in subs:
            await sub.aclose()
        assert counts == [THINGS] * SUBSCRIBERS
        return SUBSCRIBERS * THINGS / elapsed


def _serve(conn: Any) -> None:
    async def main() -> None:
        async with EmbeddedTwinStore(queue_size=5000) as store:
            await _fill(store)
            settings = TwinServiceSettings(port=0, ws_queue_size=50_000)
            async with TwinServer(store, settings) as server:
                conn.send(server.url)
                await asyncio.get_running_loop().run_in_executor(None, conn.recv)

    asyncio.run(main())


async def over_http(url: str, commands: str = "http", concurrency: int = HTTP_CONCURRENCY) -> float:
    ids = _ids()
    async with DittoTwinStore(url, auth=DittoAuth.basic("ditto", "ditto"), commands=commands) as client:
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(THINGS):
            queue.put_nowait(i)

        async def worker() -> None:  # HTTP/WS merges at `/`: the revision comes in the ETag
            while not queue.empty():
                i = queue.get_nowait()
                await client.merge(ids[i], "/", _patch(i))

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return THINGS / (time.perf_counter() - start)


async def over_raw_http(url: str, connections: int = 8) -> float:
    """Merges/s the service answers to a minimal keep-alive HTTP/1.1 loader (like `wrk`), so the
    service's own capacity shows apart from the client library's cost."""
    host, port = url.removeprefix("http://").split(":")
    ids = _ids()
    auth = base64.b64encode(b"ditto:ditto").decode()
    counter = iter(range(THINGS))

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            for i in counter:
                body = json.dumps(_patch(i + 2)).encode()
                head_lines = (
                    f"PATCH /api/2/things/{ids[i]} HTTP/1.1",
                    f"Host: {host}",
                    f"Authorization: Basic {auth}",
                    "Content-Type: application/merge-patch+json",
                    f"Content-Length: {len(body)}",
                )
                writer.write(("\r\n".join(head_lines) + "\r\n\r\n").encode() + body)
                head = await reader.readuntil(b"\r\n\r\n")
                if not head.startswith(b"HTTP/1.1 204"):
                    raise RuntimeError(head.decode(errors="replace"))
                length = [h for h in head.lower().split(b"\r\n") if h.startswith(b"content-length:")]
                if length:
                    await reader.readexactly(int(length[0].split(b":")[1]))
        finally:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(connections)))
    return THINGS / (time.perf_counter() - start)


async def fan_out_ws(url: str) -> float:
    ids = _ids()
    async with DittoTwinStore(url, auth=DittoAuth.basic("ditto", "ditto"), commands="ws") as client:
        subs = [client.subscribe(namespaces=["org.acme.bench"]) for _ in range(SUBSCRIBERS)]
        for sub in subs:
            await sub.started()

        async def drain(sub: Any) -> int:
            n = 0
            async for _ in sub:
                n += 1
                if n == WS_MERGES:
                    break
            return n

        start = time.perf_counter()
        readers = [asyncio.create_task(drain(sub)) for sub in subs]
        sem = asyncio.Semaphore(WS_CONCURRENCY)

        async def one(i: int) -> None:
            async with sem:
                await client.merge(ids[i], "/", _patch(i + 1))

        await asyncio.gather(*(one(i) for i in range(WS_MERGES)))
        counts = await asyncio.wait_for(asyncio.gather(*readers), 120)
        elapsed = time.perf_counter() - start
        for sub in subs:
            await sub.aclose()
        assert counts == [WS_MERGES] * SUBSCRIBERS
        return SUBSCRIBERS * WS_MERGES / elapsed


def main() -> None:
    base = baseline()
    print(f"baseline: dict merge-patch with copy   {base:12,.0f} merges/s ({THINGS:,} things)")
    memory = asyncio.run(in_process("memory"))
    print(f"embedded store, memory, in process      {memory:12,.0f} merges/s")
    sqlite = asyncio.run(in_process("sqlite"))
    print(f"embedded store, SQLite, in process      {sqlite:12,.0f} merges/s")
    behind = asyncio.run(in_process("sqlite-behind"))
    print(f"embedded store, SQLite write-behind     {behind:12,.0f} merges/s (flushed at the end)")
    fan = asyncio.run(fan_out_in_process())
    print(f"fan-out to {SUBSCRIBERS} in-process subscribers   {fan:12,.0f} events/s delivered")
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_serve, args=(child,), daemon=True)
    proc.start()
    try:
        if not parent.poll(120):
            sys.exit("The twin service did not start within 120 s.")
        url = parent.recv()
        http = asyncio.run(over_http(url))
        print(f"HTTP merges by DittoTwinStore ({HTTP_CONCURRENCY} in flight) {http:10,.0f} merges/s")
        ws_commands = asyncio.run(over_http(url, "ws", WS_CONCURRENCY))
        print(
            f"WebSocket commands by DittoTwinStore ({WS_CONCURRENCY} in flight) {ws_commands:8,.0f} merges/s"
        )
        raw = asyncio.run(over_raw_http(url))
        print(f"HTTP merges, minimal keep-alive loader  {raw:12,.0f} merges/s")
        ws = asyncio.run(fan_out_ws(url))
        print(f"fan-out to {SUBSCRIBERS} WebSocket subscribers     {ws:12,.0f} events/s delivered")
    finally:
        parent.send("stop")
        proc.join(30)
    print(f"Ditto's published figure: ~{DITTO_PUBLISHED_PER_S} twin updates/s per connectivity instance")
    result = {
        "bench": "twin",
        "things": THINGS,
        "ours_per_s": round(memory),
        "baseline_per_s": round(base),
        "ratio": round(memory / base, 3),
        "sqlite_per_s": round(sqlite),
        "sqlite_write_behind_per_s": round(behind),
        "http_per_s": round(http),
        "http_raw_loader_per_s": round(raw),
        "ws_commands_per_s": round(ws_commands),
        "fanout_events_per_s": round(fan),
        "ws_fanout_events_per_s": round(ws),
        "subscribers": SUBSCRIBERS,
        "ditto_published_per_s": DITTO_PUBLISHED_PER_S,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
