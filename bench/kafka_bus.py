"""Kafka path throughput: events/s per consumer through KafkaBus, 1 vs 2 consumers in one group.

N Ditto Protocol twin events (about 300 bytes of JSON, keyed by thing id) are produced once to a topic
of PARTITIONS partitions (the producer rate is shown too). Then, each run in a new consumer group:
- baseline: a bare aiokafka consumer (getmany, json.loads per record, commit per batch);
- ours 1: one KafkaBus consumer doing the same through the `Consumer` port (Record objects);
- ours 2: two KafkaBus consumers of one group, each in its own process (so two cores can work);
  timed from the first record to the last, so the group's rebalance when the second joins is included.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import os
import time
import uuid
from typing import Any

from _services import bare_consumer_rate, require

from centinela.infra.kafka_admin import KafkaAdmin
from centinela.infra.kafka_bus import KafkaBus

EVENTS = int(os.environ.get("BENCH_EVENTS", "100000"))
PARTITIONS = 4


def _event(i: int) -> tuple[str, bytes]:
    thing = f"org.acme.field:well-{i % 500}"
    body = {
        "topic": f"org.acme.field/well-{i % 500}/things/twin/events/modified",
        "headers": {"correlation-id": f"c-{i}", "content-type": "application/json"},
        "path": "/features/pressure/properties/tubing",
        "value": 2900.0 + (i % 97) * 0.5,
        "revision": i,
        "timestamp": "2026-11-29T18:00:00.000Z",
    }
    return thing, json.dumps(body).encode()


async def _produce(bus: KafkaBus, topic: str) -> float:
    began = time.perf_counter()
    for i in range(EVENTS):
        key, value = _event(i)
        await bus.publish(topic, key, value)
    await bus.flush()
    return EVENTS / (time.perf_counter() - began)


async def _baseline(bootstrap: str, topic: str) -> float:
    return await bare_consumer_rate(bootstrap, topic, EVENTS, max_records=5000)


async def _ours(url: str, topic: str, group: str, counter: Any | None = None) -> float:
    bus = await KafkaBus.from_url(url)
    consumer = await bus.consumer([topic], group=group)
    count, began = 0, None
    try:
        while (counter.value if counter is not None else count) < EVENTS:
            records = await consumer.getmany(timeout=0.2, max_records=5000)
            if records and began is None:
                began = time.perf_counter()
            for r in records:
                json.loads(r.value)
            count += len(records)
            if records:
                await consumer.commit(records)
                if counter is not None:
                    with counter.get_lock():
                        counter.value += len(records)
    finally:
        await consumer.aclose()
        await bus.aclose()
    assert began is not None or counter is not None
    return EVENTS / (time.perf_counter() - (began or time.perf_counter()))


def _worker(url: str, topic: str, group: str, counter: Any, started: Any) -> None:
    async def run() -> None:
        await _ours(url, topic, group, counter)

    with started.get_lock():
        started.value += 1
    asyncio.run(run())


def _two(url: str, topic: str) -> float:
    ctx = mp.get_context("spawn")
    counter, started = ctx.Value("l", 0), ctx.Value("l", 0)
    group = f"two-{uuid.uuid4().hex[:6]}"
    procs = [ctx.Process(target=_worker, args=(url, topic, group, counter, started)) for _ in range(2)]
    for p in procs:
        p.start()
    while counter.value == 0:
        time.sleep(0.001)
    # The clock starts at the first batch seen, so only the records counted after it are timed.
    began, first = time.perf_counter(), counter.value
    while counter.value < EVENTS:
        time.sleep(0.001)
    elapsed = time.perf_counter() - began
    for p in procs:
        p.join(30)
    if first >= EVENTS:
        msg = f"The first batch held all {EVENTS} events; raise BENCH_EVENTS to time two consumers."
        raise SystemExit(msg)
    return (EVENTS - first) / elapsed


async def main() -> None:
    url = require("kafka", "kafka")
    bootstrap = url.removeprefix("kafka://")
    topic = f"bench.twin.events.{uuid.uuid4().hex[:6]}"
    bus = await KafkaBus.from_url(url, partitions={topic: PARTITIONS})
    try:
        produced = await _produce(bus, topic)
    finally:
        await bus.aclose()
    try:
        base = [await _baseline(bootstrap, topic) for _ in range(2)]
        one = [await _ours(url, topic, f"one-{uuid.uuid4().hex[:6]}") for _ in range(2)]
        two = [await asyncio.to_thread(_two, url, topic) for _ in range(2)]
    finally:
        admin = KafkaAdmin(bootstrap)
        await admin.start()
        await admin.delete([topic])
        await admin.aclose()
    print(f"events: {EVENTS}, partitions: {PARTITIONS}")
    print(f"producer (KafkaBus, acks=all, idempotent): {produced:,.0f} events/s")
    print(f"bare aiokafka consumer:         {max(base):,.0f} events/s  runs {[round(b) for b in base]}")
    print(f"KafkaBus, 1 consumer:           {max(one):,.0f} events/s  runs {[round(b) for b in one]}")
    print(f"KafkaBus, 2 consumers (group):  {max(two):,.0f} events/s  runs {[round(b) for b in two]}")
    print(json.dumps({"bench": "kafka", "ours_per_s": round(max(one)), "baseline_per_s": round(max(base)),
                      "ratio": round(max(one) / max(base), 3), "two_consumers_per_s": round(max(two)),
                      "producer_per_s": round(produced)}))


if __name__ == "__main__":
    asyncio.run(main())
