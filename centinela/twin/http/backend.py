"""What the HTTP and WebSocket layers need from the embedded store: scoped access and event feeds."""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections import deque
from collections.abc import Collection, Iterator

from centinela.errors import TwinError
from centinela.ports import ThingEvent
from centinela.twin.http.auth import Principal
from centinela.twin.store import EmbeddedTwinStore

__all__ = ["Backend", "EventFeed", "NamespaceScope"]


class NamespaceScope(Collection[str]):
    """The namespaces a principal may use, as a collection whose `in` matches its patterns."""

    def __init__(self, principal: Principal) -> None:
        self._principal = principal

    def __contains__(self, namespace: object) -> bool:
        return isinstance(namespace, str) and self._principal.allows(namespace)

    def __iter__(self) -> Iterator[str]:
        return iter(self._principal.namespaces)

    def __len__(self) -> int:
        return len(self._principal.namespaces)


class EventFeed:
    """Events for one network client, decoupled from the store by a bounded buffer.

    A pump task moves events from the store subscription into the buffer; when the client lets
    the buffer fill up, the feed ends (`overflowed` is set) instead of slowing the store's writers.
    """

    def __init__(
        self, store: EmbeddedTwinStore, principal: Principal, limit: int, **options: str | None
    ) -> None:
        scope = principal.scope(
            None if options.get("namespaces") is None else str(options["namespaces"]).split(",")
        )
        self._subscription = store.subscribe(
            namespaces=scope, filter=options.get("filter"), extra_fields=options.get("extra_fields")
        )
        self._principal = principal
        self._limit = limit
        self._buffer: deque[ThingEvent] = deque()
        self._wakeup = asyncio.Event()
        self._closed = False
        self.overflowed = False
        self._pump = asyncio.create_task(self._run())

    async def ready(self) -> None:
        """Return once events are being received (the subscription is open from construction)."""
        await asyncio.sleep(0)

    async def _run(self) -> None:
        async for event in self._subscription:
            if not self._principal.allows_thing(event.thing_id):
                continue
            if len(self._buffer) >= self._limit:
                self.overflowed = True
                break
            self._buffer.append(event)
            self._wakeup.set()
        self._closed = True
        self._wakeup.set()
        await self._subscription.aclose()

    async def get(self) -> ThingEvent | None:
        """The next event, or `None` once the feed has ended (closed or overflowed)."""
        while not self._buffer:
            if self._closed:
                return None
            self._wakeup.clear()
            await self._wakeup.wait()
        if self.overflowed:
            return None
        return self._buffer.popleft()

    async def aclose(self) -> None:
        self._closed = True
        self._wakeup.set()
        self._pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._pump
        await self._subscription.aclose()


class Backend:
    """The embedded store seen through a principal: namespace scope and event feeds."""

    def __init__(self, store: EmbeddedTwinStore, *, feed_limit: int = 1000) -> None:
        self.store = store
        self.feed_limit = feed_limit
        self._feeds: weakref.WeakSet[EventFeed] = weakref.WeakSet()
        self.closing = False

    async def close_feeds(self) -> None:
        """End every open event feed and refuse new ones: the service is shutting down."""
        self.closing = True
        for feed in list(self._feeds):
            await feed.aclose()

    @staticmethod
    def scope(principal: Principal) -> Collection[str] | None:
        return None if principal.unrestricted else NamespaceScope(principal)

    def subscribe(
        self,
        principal: Principal,
        *,
        namespaces: list[str] | None = None,
        filter: str | None = None,  # noqa: A002 - Ditto's parameter name
        extra_fields: str | None = None,
    ) -> EventFeed:
        if self.closing:
            msg = "The twin service is shutting down and accepts no new event subscriptions."
            raise TwinError(503, "gateway:service.unavailable", msg, "Connect again in a moment.")
        feed = EventFeed(
            self.store,
            principal,
            self.feed_limit,
            namespaces=",".join(namespaces) if namespaces is not None else None,
            filter=filter,
            extra_fields=extra_fields,
        )
        self._feeds.add(feed)
        return feed
