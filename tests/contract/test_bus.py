"""Contract of the `Bus` port, run over `MemoryBus` and `KafkaBus` (a real broker on loopback)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from service_urls import require

from centinela.infra.dlq import dead_letter, dlq_topic, publish_json, read_dead_letter
from centinela.infra.memory_bus import MemoryBus
from centinela.ports import Bus, Consumer, Record

Factory = Callable[[], Awaitable[Bus]]


async def _memory() -> Bus:
    return MemoryBus()


async def _kafka() -> Bus:
    from centinela.infra.kafka_bus import KafkaBus

    # Three partitions, so per-key order is checked across partitions, not given by a single one.
    return await KafkaBus.from_url(require("kafka") + "?partitions=3")


FACTORIES: dict[str, Factory] = {"memory": _memory, "kafka": _kafka}


@pytest.fixture(params=["memory", pytest.param("kafka", marks=pytest.mark.integration)])
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[Bus]:
    instance = await FACTORIES[request.param]()
    yield instance
    await instance.aclose()


@pytest.fixture
def topic() -> str:
    return f"test.bus.{uuid.uuid4().hex[:10]}"


async def _take(consumer: Consumer, count: int, *, within: float = 20.0) -> list[Record]:
    """Read until `count` records arrived (or `within` seconds passed)."""
    got: list[Record] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while len(got) < count and loop.time() < deadline:
        got.extend(await consumer.getmany(timeout=0.5, max_records=count - len(got)))
    return got


async def test_keyed_records_round_trip_in_order_per_key(bus: Bus, topic: str) -> None:
    things = [f"org.acme:well-{i}" for i in range(4)]
    for n in range(25):
        for thing in things:
            await bus.publish(topic, thing, f"{thing}#{n}".encode(), headers=[("seq", str(n).encode())])
    await bus.flush()

    consumer = await bus.consumer([topic], group=f"g-{topic}")
    got = await _take(consumer, 100)
    await consumer.aclose()

    assert len(got) == 100
    for thing in things:
        mine = [r for r in got if r.key == thing]
        assert [r.value for r in mine] == [f"{thing}#{n}".encode() for n in range(25)]
        assert [dict(r.headers)["seq"] for r in mine] == [str(n).encode() for n in range(25)]
        assert all(r.topic == topic and r.offset >= 0 for r in mine)


async def test_group_resumes_after_the_last_commit(bus: Bus, topic: str) -> None:
    for n in range(10):
        await bus.publish(topic, "org.acme:w", str(n).encode())
    await bus.flush()
    group = f"g-{topic}"

    first = await bus.consumer([topic], group=group)
    records = await _take(first, 10)
    assert [r.value for r in records] == [str(n).encode() for n in range(10)]
    await first.commit(records[:6])  # effects of 0..5 durable; 6..9 were not
    await first.aclose()

    second = await bus.consumer([topic], group=group)
    redelivered = await _take(second, 4)
    await second.commit()
    await second.aclose()
    assert [r.value for r in redelivered] == [b"6", b"7", b"8", b"9"]

    # Everything is committed now: a third member gets nothing old, only what is new.
    await bus.publish(topic, "org.acme:w", b"10")
    await bus.flush()
    third = await bus.consumer([topic], group=group)
    assert [r.value for r in await _take(third, 1)] == [b"10"]
    await third.aclose()


async def test_each_group_sees_every_record(bus: Bus, topic: str) -> None:
    for n in range(5):
        await bus.publish(topic, None if n % 2 else "k", str(n).encode())
    await bus.flush()
    for group in ("a", "b"):
        consumer = await bus.consumer([topic], group=f"{group}-{topic}")
        assert sorted(r.value for r in await _take(consumer, 5)) == [str(n).encode() for n in range(5)]
        await consumer.aclose()


async def test_undecodable_record_goes_to_the_dead_letter_topic(bus: Bus, topic: str) -> None:
    await publish_json(bus, topic, {"topic": "org.acme/well-1/things/twin/commands/merge", "path": "/"})
    await bus.publish(topic, "org.acme:well-2", b"{not json", headers=[("origin", b"plc")])
    await bus.flush()

    consumer = await bus.consumer([topic], group=f"g-{topic}")
    good: list[dict[str, object]] = []
    for record in await _take(consumer, 2):
        try:
            good.append(json.loads(record.value))
        except ValueError as exc:
            await dead_letter(bus, record, "The record is not JSON.", error=exc)
    await bus.flush()
    await consumer.commit()
    await consumer.aclose()

    assert [g["path"] for g in good] == ["/"]
    dlq = await bus.consumer([dlq_topic(topic)], group=f"dlq-{topic}")
    letters = await _take(dlq, 1)
    await dlq.aclose()
    assert len(letters) == 1
    letter = letters[0]
    assert (letter.key, letter.value) == ("org.acme:well-2", b"{not json")
    assert dict(letter.headers)["origin"] == b"plc"
    info = read_dead_letter(letter)
    assert (info.reason, info.error, info.topic) == ("The record is not JSON.", "JSONDecodeError", topic)
    assert info.offset >= 0
