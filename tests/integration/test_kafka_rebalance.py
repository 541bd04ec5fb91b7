"""KafkaBus consumer groups on a real broker: rebalance callbacks, shared partitions, rewinding to commits."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import pytest

from centinela.infra.kafka_bus import KafkaBus, KafkaConsumer, Partitions

pytestmark = pytest.mark.integration


async def _until(check: Callable[[], bool], consumers: list[KafkaConsumer], within: float = 30.0) -> None:
    """Keep the members polling (which drives the group protocol) until `check()` holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not check() and loop.time() < deadline:
        await asyncio.gather(*(c.getmany(timeout=0.2) for c in consumers))
    assert check(), "the group did not settle in time"


async def test_second_member_takes_half_the_partitions_with_callbacks(kafka_url: str) -> None:
    topic = f"test.rebalance.{uuid.uuid4().hex[:8]}"
    group = f"g-{topic}"
    bus = await KafkaBus.from_url(kafka_url, partitions={topic: 4})
    events: list[tuple[str, str, Partitions]] = []

    def recorder(member: str, kind: str) -> Callable[[Partitions], Awaitable[None]]:
        async def callback(partitions: Partitions) -> None:
            events.append((member, kind, partitions))

        return callback

    first = await bus.consumer([topic], group=group, on_assigned=recorder("a", "assigned"),
                               on_revoked=recorder("a", "revoked"))
    try:
        await _until(lambda: len(first.assignment) == 4, [first])
        assert ("a", "assigned", [(topic, p) for p in range(4)]) in events
        second = await bus.consumer([topic], group=group, on_assigned=recorder("b", "assigned"),
                                    on_revoked=recorder("b", "revoked"))
        try:
            def settled() -> bool:
                assigned = [m for m, kind, _ in events if kind == "assigned"]
                return assigned.count("a") == 2 and assigned.count("b") == 1

            await _until(settled, [first, second])
            assert len(first.assignment) == len(second.assignment) == 2
            assert sorted(first.assignment + second.assignment) == [(topic, p) for p in range(4)]
            # The first member was told what it lost before it got its new share.
            assert [(m, k) for m, k, _ in events if m == "a"] == [("a", "assigned"), ("a", "revoked"),
                                                                 ("a", "assigned")]
            assert [p for m, k, p in events if m == "a"][-1] == first.assignment
        finally:
            await second.aclose()
    finally:
        await first.aclose()
        await bus.aclose()


async def test_seek_to_committed_rewinds_an_uncommitted_batch(kafka_url: str) -> None:
    topic = f"test.rewind.{uuid.uuid4().hex[:8]}"
    bus = await KafkaBus.from_url(kafka_url)
    for n in range(6):
        await bus.publish(topic, "k", str(n).encode())
    await bus.flush()
    consumer = await bus.consumer([topic], group=f"g-{topic}")
    try:
        got: list[bytes] = []
        for _ in range(60):
            got += [r.value for r in await consumer.getmany(timeout=0.5)]
            if len(got) >= 6:
                break
        assert got == [str(n).encode() for n in range(6)]
        await consumer.commit([])  # nothing durable yet: nothing to commit
        await consumer.seek_to_committed()  # a failed batch: read it again from the last commit
        again: list[bytes] = []
        for _ in range(60):
            again += [r.value for r in await consumer.getmany(timeout=0.5)]
            if len(again) >= 6:
                break
        assert again == got
    finally:
        await consumer.aclose()
        await bus.aclose()
