"""`KafkaBus` batching its records per partition (`Outbox`) on a real broker: per-key order, each record
exactly once, backpressure when full batches pile up, and a clear error for a record that is too large."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from worker_support import read_topic

from centinela.errors import BusError
from centinela.infra.kafka_bus import KafkaBus
from centinela.infra.kafka_tuning import KafkaTuning

pytestmark = pytest.mark.integration


async def test_batched_records_keep_per_key_order_and_arrive_once(kafka_url: str) -> None:
    topic = f"outbox{uuid.uuid4().hex[:8]}"
    # Small batches so that many fill up, and a low bound so that publishing must wait for the broker.
    tuning = KafkaTuning(max_batch_size=2048, max_queued_batches=2)
    bus = await KafkaBus.from_url(kafka_url, partitions={topic: 3}, tuning=tuning)
    keys = [f"org.acme:well-{i}" for i in range(7)]
    per_key = 300
    try:
        waited = 0
        for seq in range(per_key):
            for key in keys:
                before = bus.outbox.waiting
                await bus.publish(topic, key, json.dumps({"key": key, "seq": seq}).encode(),
                                  [("seq", str(seq).encode())])
                waited += bus.outbox.waiting < before  # the hand-off ran while we were held
            if seq % 50 == 0:
                await asyncio.sleep(0)  # let some batches go while others are still filling
        await bus.flush()
        assert bus.outbox.waiting == 0
        assert waited > 0  # backpressure held the publisher at least once
        assert bus.outbox.batches > len(keys)  # many batches, not one per partition

        records = await read_topic(bus, topic, f"audit-{topic}", len(keys) * per_key, 30)
        bodies = [json.loads(r.value) for r in records]
        assert len(bodies) == len(keys) * per_key
        assert {(b["key"], b["seq"]) for b in bodies} == {(k, s) for k in keys for s in range(per_key)}
        partition_of: dict[str, int] = {}
        for r, b in zip(records, bodies, strict=True):
            assert r.key == b["key"]
            assert r.headers == (("seq", str(b["seq"]).encode()),)
            assert partition_of.setdefault(b["key"], r.partition) == r.partition  # one key, one partition
        for key in keys:
            assert [b["seq"] for b in bodies if b["key"] == key] == list(range(per_key))
    finally:
        await bus.aclose()


async def test_a_record_larger_than_the_limit_is_refused(kafka_url: str) -> None:
    topic = f"outbox{uuid.uuid4().hex[:8]}"
    bus = await KafkaBus.from_url(kafka_url + "?max_request_size=1000")
    try:
        with pytest.raises(BusError, match="1001 bytes"):
            await bus.publish(topic, "org.acme:w", b"x" * 1001)
        await bus.publish(topic, "org.acme:w", b"y" * 1000)
        await bus.flush()
        records = await read_topic(bus, topic, f"audit-{topic}", 1, 20)
        assert [r.value for r in records] == [b"y" * 1000]
    finally:
        await bus.aclose()


async def test_with_a_linger_records_go_without_a_flush(kafka_url: str) -> None:
    topic = f"outbox{uuid.uuid4().hex[:8]}"
    bus = await KafkaBus.from_url(kafka_url + "?linger_ms=50", partitions={topic: 2})
    try:
        await bus.ensure_topics([topic])
        consumer = await bus.consumer([topic], group=f"audit-{topic}")
        try:
            for i in range(5):
                await bus.publish(topic, f"org.acme:w{i}", str(i).encode())
            assert bus.outbox.waiting > 0  # lingering: nothing handed over yet
            got: list[bytes] = []
            for _ in range(40):  # no flush: the linger timer hands the batches over
                got.extend(r.value for r in await consumer.getmany(timeout=0.25))
                if len(got) == 5:
                    break
            assert sorted(got) == [str(i).encode() for i in range(5)]
            assert bus.outbox.waiting == 0
        finally:
            await consumer.aclose()
    finally:
        await bus.aclose()


async def test_partitions_added_to_a_topic_are_used_after_a_metadata_refresh(kafka_url: str) -> None:
    from urllib.parse import urlsplit

    from aiokafka.admin import AIOKafkaAdminClient, NewPartitions

    from centinela.infra.kafka_outbox import partition_for

    topic = f"outbox{uuid.uuid4().hex[:8]}"
    bus = await KafkaBus.from_url(kafka_url, partitions={topic: 1})
    admin = AIOKafkaAdminClient(bootstrap_servers=urlsplit(kafka_url).netloc)
    keys = [f"org.acme:well-{i}" for i in range(40)]
    try:
        for key in keys:
            await bus.publish(topic, key, b"before")
        await bus.flush()
        await admin.start()
        await admin.create_partitions({topic: NewPartitions(total_count=4)})
        for _ in range(50):  # the producer learns of the new partitions with its next metadata refresh
            await bus._producer.client.force_metadata_update()
            if len(bus._producer.client.cluster.partitions_for_topic(topic) or ()) == 4:
                break
            await asyncio.sleep(0.1)
        for key in keys:
            await bus.publish(topic, key, b"after")
        await bus.flush()
        records = await read_topic(bus, topic, f"audit-{topic}", 2 * len(keys), 30)
        after = {r.key: r.partition for r in records if r.value == b"after"}
        assert after == {k: partition_for(k.encode(), [0, 1, 2, 3], [0, 1, 2, 3]) for k in keys}
        assert len(set(after.values())) > 1  # the keys spread over the new partitions
        assert {r.partition for r in records if r.value == b"before"} == {0}
    finally:
        await admin.close()
        await bus.aclose()
