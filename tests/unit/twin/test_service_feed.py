"""Event feeds of network clients: scoped to the principal, and never slowing the store's writers."""

from __future__ import annotations

import asyncio

from centinela.twin.http.auth import Principal
from centinela.twin.http.backend import Backend
from centinela.twin.store import EmbeddedTwinStore


async def test_a_client_that_does_not_read_ends_its_feed_not_the_writes() -> None:
    async with EmbeddedTwinStore(queue_size=4) as store:
        backend = Backend(store, feed_limit=5)
        feed = backend.subscribe(Principal("nginx:slow", ("*",)))
        await feed.ready()
        # 50 writes through a store whose subscription queues hold 4 events: they must all finish.
        await asyncio.wait_for(
            asyncio.gather(*(store.put(f"org.acme:w{i}", "/", {}) for i in range(50))), timeout=5
        )
        assert len(store) == 50
        assert feed.overflowed
        assert await feed.get() is None
        await feed.aclose()


async def test_feed_delivers_in_order_only_visible_things() -> None:
    async with EmbeddedTwinStore() as store:
        backend = Backend(store)
        feed = backend.subscribe(Principal("nginx:ops", ("org.acme*",)))
        await store.put("org.other:x", "/", {})
        await store.put("org.acme.north:w", "/", {"attributes": {"n": 1}})
        await store.patch("org.acme.north:w", "/attributes", {"n": 2})
        first = await asyncio.wait_for(feed.get(), 5)
        second = await asyncio.wait_for(feed.get(), 5)
        assert first is not None and second is not None
        assert [(first.thing_id, first.revision), (second.thing_id, second.revision)] == [
            ("org.acme.north:w", 1),
            ("org.acme.north:w", 2),
        ]
        await feed.aclose()
        assert await feed.get() is None
