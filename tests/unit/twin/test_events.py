"""In-process subscriptions: events as Ditto reports them, filters, extra fields, backpressure."""

from __future__ import annotations

import asyncio
from collections import defaultdict

import pytest

from centinela.clock import ManualClock
from centinela.ports import Subscription, ThingEvent
from centinela.twin.events import EventHub
from centinela.twin.store import EmbeddedTwinStore


def _drain(sub: Subscription) -> list[ThingEvent]:
    out = []
    while (event := sub.get_nowait()) is not None:  # type: ignore[attr-defined]
        out.append(event)
    return out


async def test_each_command_produces_its_event() -> None:
    clock = ManualClock(500.0)
    async with EmbeddedTwinStore(clock=clock) as store:
        sub = store.subscribe()
        headers = {"correlation-id": "c-1", "centinela-origin": "engine"}
        await store.put("acme:p", "/", {"attributes": {"a": 1}}, headers=headers)
        await clock.advance(1.5)
        await store.put("acme:p", "/attributes/a", 2)
        await store.put("acme:p", "/attributes/b", 3)
        await store.patch("acme:p", "/features", {"f": {"properties": {"x": 1}}})
        await store.remove("acme:p", "/attributes/b")
        await store.remove("acme:p")
        events = _drain(sub)
    assert [(e.action, e.path, e.revision) for e in events] == [
        ("created", "/", 1),
        ("modified", "/attributes/a", 2),
        ("created", "/attributes/b", 3),
        ("merged", "/features", 4),
        ("deleted", "/attributes/b", 5),
        ("deleted", "/", 6),
    ]
    assert events[0].value == {"thingId": "acme:p", "policyId": "acme:p", "attributes": {"a": 1}}
    assert events[0].headers == headers
    assert events[0].timestamp == 500.0
    assert events[1].timestamp == 501.5
    assert events[3].value == {"f": {"properties": {"x": 1}}}
    assert events[4].value is None


async def test_namespaces_filter_and_extra_fields() -> None:
    async with EmbeddedTwinStore() as store:
        sub = store.subscribe(
            namespaces=["acme"],
            filter="gt(features/p/properties/v,10)",
            extra_fields="attributes/site,_revision",
        )
        await store.put(
            "acme:a", "/", {"attributes": {"site": "n"}, "features": {"p": {"properties": {"v": 1}}}}
        )
        await store.put("other:a", "/", {"features": {"p": {"properties": {"v": 50}}}})
        await store.put("acme:a", "/features/p/properties/v", 20)  # matches after the change
        await store.put("acme:a", "/attributes/x", True)  # still matches (v is 20)
        await store.put("acme:a", "/features/p/properties/v", 5)  # no longer matches
        events = _drain(sub)
    assert [(e.thing_id, e.path, e.value) for e in events] == [
        ("acme:a", "/features/p/properties/v", 20),
        ("acme:a", "/attributes/x", True),
    ]
    assert events[0].extra == {"attributes": {"site": "n"}, "_revision": 2}


async def test_closed_subscription_stops_iteration_and_receives_nothing() -> None:
    async with EmbeddedTwinStore() as store:
        async with store.subscribe() as sub:
            await store.put("acme:a", "/", {})
        assert store.hub.subscriptions == 0
        await store.put("acme:a", "/attributes/x", 1)
        assert [e async for e in sub] == []


async def test_slow_subscriber_gets_every_event_in_revision_order() -> None:
    things, writes_per_thing = 8, 40
    async with EmbeddedTwinStore(queue_size=4) as store:
        slow = store.subscribe()
        fast = store.subscribe(queue_size=1000)
        seen: dict[str, list[int]] = defaultdict(list)
        total = things * writes_per_thing + things

        async def consume() -> None:
            count = 0
            async for event in slow:
                seen[event.thing_id].append(event.revision)
                count += 1
                assert slow.pending <= 4
                if count % 3 == 0:
                    await asyncio.sleep(0)  # yield so writers pile up against the full queue
                if count == total:
                    return

        async def write(i: int) -> None:
            tid = f"acme:t{i}"
            await store.put(tid, "/", {})
            for n in range(writes_per_thing):
                await store.patch(tid, "/attributes", {"n": n})

        consumer = asyncio.create_task(consume())
        await asyncio.wait_for(asyncio.gather(*(write(i) for i in range(things))), 10)
        await asyncio.wait_for(consumer, 10)
        fast_events = _drain(fast)
    assert len(fast_events) == total
    assert sorted(seen) == [f"acme:t{i}" for i in range(things)]
    for revisions in seen.values():
        assert revisions == list(range(1, writes_per_thing + 2))


async def test_writer_waits_while_the_queue_is_full() -> None:
    async with EmbeddedTwinStore(queue_size=2) as store:
        sub = store.subscribe()
        await store.put("acme:a", "/", {})
        await store.put("acme:a", "/attributes/x", 1)
        blocked = asyncio.create_task(store.put("acme:a", "/attributes/y", 2))
        for _ in range(5):
            await asyncio.sleep(0)
        assert not blocked.done()
        assert store.revision("acme:a") == 2  # not applied until there is room for its event
        first = await sub.__anext__()
        await asyncio.wait_for(blocked, 1)
        assert first.revision == 1
        assert [e.revision for e in _drain(sub)] == [2, 3]


async def test_consumer_writing_back_does_not_deadlock_on_its_own_queue() -> None:
    async with EmbeddedTwinStore(queue_size=1) as store:
        sub = store.subscribe()
        await store.put("acme:a", "/", {})
        done = []

        async def engine() -> None:
            async for event in sub:
                if event.revision < 5:
                    # A write from the consuming task may overfill its own queue instead of waiting.
                    await store.patch("acme:a", "/attributes", {"computed": event.revision})
                done.append(event.revision)
                if event.revision == 5:
                    return

        await asyncio.wait_for(engine(), 2)
    assert done == [1, 2, 3, 4, 5]


async def test_closing_releases_waiting_writers() -> None:
    async with EmbeddedTwinStore(queue_size=1) as store:
        sub = store.subscribe()
        await store.put("acme:a", "/", {})
        blocked = asyncio.create_task(store.put("acme:a", "/attributes/y", 2))
        await asyncio.sleep(0)
        assert not blocked.done()
        await sub.aclose()
        result = await asyncio.wait_for(blocked, 1)
        assert result.revision == 2


def test_queue_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        EventHub().subscribe(queue_size=-1)


async def test_extra_fields_are_picked_when_read_and_show_the_thing_at_the_event() -> None:
    from centinela.twin.events import LazyExtra
    from centinela.twin.store import EmbeddedTwinStore

    async with EmbeddedTwinStore() as store:
        lazy = store.subscribe(extra_fields="attributes/site")
        eager = store.subscribe(extra_fields="attributes/site,_revision")
        await store.put("org.acme:w-1", "/", {"attributes": {"site": "north", "depth": 3}})
        await store.merge("org.acme:w-1", "/attributes", {"site": "south"})
        first, second = lazy.get_nowait(), lazy.get_nowait()
        assert first is not None and second is not None
        assert isinstance(first.extra, LazyExtra)  # nothing picked yet; read after the later change
        assert first.extra == {"attributes": {"site": "north"}}
        assert dict(second.extra or {}) == {"attributes": {"site": "south"}}
        events = [eager.get_nowait(), eager.get_nowait()]
        assert [dict(e.extra or {}) for e in events if e is not None] == [
            {"attributes": {"site": "north"}, "_revision": 1},
            {"attributes": {"site": "south"}, "_revision": 2},
        ]
        await lazy.aclose()
        await eager.aclose()
