import asyncio

from centinela.infra.memory_bus import MemoryBus


async def test_records_keep_order_and_group_resumes_after_commit() -> None:
    bus = MemoryBus()
    for i in range(5):
        await bus.publish("t", "org.acme:w1", str(i).encode())
    consumer = await bus.consumer(["t"], group="g")
    first = await consumer.getmany(timeout=0.1, max_records=3)
    assert [r.value for r in first] == [b"0", b"1", b"2"]
    await consumer.commit(first[:2])
    await consumer.aclose()

    # A new member of the same group starts after the last committed record, not the last read one.
    again = await bus.consumer(["t"], group="g")
    rest = await again.getmany(timeout=0.1)
    assert [r.value for r in rest] == [b"2", b"3", b"4"]
    other_group = await bus.consumer(["t"], group="h")
    assert len(await other_group.getmany(timeout=0.1)) == 5


async def test_getmany_waits_for_a_record_published_later() -> None:
    bus = MemoryBus()
    consumer = await bus.consumer(["t"], group="g")

    async def later() -> None:
        await asyncio.sleep(0.05)
        await bus.publish("t", None, b"x", headers=[("h", b"v")])

    task = asyncio.create_task(later())
    got = await consumer.getmany(timeout=2.0)
    await task
    assert [(r.value, r.headers) for r in got] == [(b"x", (("h", b"v"),))]


async def test_getmany_times_out_empty() -> None:
    bus = MemoryBus()
    consumer = await bus.consumer(["t"], group="g")
    assert await consumer.getmany(timeout=0.05) == []
