"""In-process event subscriptions: bounded queues, writers wait for room, nothing dropped or reordered.

Backpressure policy
-------------------
Every subscription has a bounded queue (`queue_size` events). Before a write is applied, the
writer *reserves* one slot in the queue of every open subscription, waiting while a queue is
full; it does so before it takes the thing's lock, so a waiting writer blocks nobody else's
changes to that thing. The change is then applied and its event is put into the reserved slots
synchronously, in the same step as the commit, so each subscriber receives the events of a
thing in revision order and no event is ever dropped.

Two exceptions keep the bound from turning into a deadlock: a write made by the task that
consumes a subscription never waits on that subscription's own queue (it would wait for
itself), and a subscription opened while a write was in flight receives that write's event
without a reservation. Both may overfill a queue by the number of such writes in flight.
A consumer that hands events to *another* task which writes back and waits for it must size
its queue accordingly; a slow consumer slows the writers, which is the point.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Collection, Iterator, Mapping
from typing import Any, Self

from centinela.ports import ThingEvent
from centinela.twin.ids import namespace_of
from centinela.twin.lifecycle import AsyncCloseable
from centinela.twin.model import compile_fields, parse_fields

__all__ = ["Accept", "EventHub", "EventSubscription", "LazyExtra", "Reservation", "View", "event_selector"]


class View:
    """The thing after a change (before it, for a deleted thing), for filters and `extraFields`.

    `thing` is the stored JSON itself (read it, never change it); calling the view gives the
    thing with `_revision`, `_modified`, ... as RQL and field selectors see them, built on first
    use only and then kept.
    """

    __slots__ = ("_built", "_make", "thing")

    def __init__(self, thing: dict[str, Any] | None, make: Callable[[], dict[str, Any] | None]) -> None:
        self.thing = thing
        self._make = make
        self._built: list[dict[str, Any] | None] = []

    def __call__(self) -> dict[str, Any] | None:
        if not self._built:
            self._built.append(self._make())
        return self._built[0]


class LazyExtra(Mapping[str, Any]):
    """`ThingEvent.extra` picked from the thing only when first read (most subscribers never do).

    The stored thing never changes in place, so picking later gives what picking at once would
    (selectors of `_policy`, `_revision`, ... are picked at once instead).
    """

    __slots__ = ("_pick", "_source", "_value")

    def __init__(self, pick: Callable[[Any], Any], source: Callable[[], Any]) -> None:
        self._pick = pick
        self._source = source
        self._value: dict[str, Any] | None = None

    def _picked(self) -> dict[str, Any]:
        if self._value is None:
            thing = self._source()
            picked = self._pick(thing) if thing is not None else {}
            self._value = picked if isinstance(picked, dict) else {}
        return self._value

    def __getitem__(self, key: str) -> Any:
        return self._picked()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._picked())

    def __len__(self) -> int:
        return len(self._picked())

    def __repr__(self) -> str:
        return repr(self._picked())


Accept = Callable[[ThingEvent, View], "ThingEvent | None"]
"""Decides whether a subscription wants an event (given a lazy view of the thing after the change)
and returns the event to deliver (enriched with `extra`), or `None` to skip it."""


class EventSubscription(AsyncCloseable):
    """One subscriber's bounded queue of `ThingEvent`s; iterate it, close it to stop."""

    def __init__(self, hub: EventHub, accept: Accept | None, queue_size: int) -> None:
        if queue_size < 1:
            msg = f"A subscription queue must hold at least 1 event, not {queue_size}."
            raise ValueError(msg)
        self._hub = hub
        self._accept = accept
        self._max = queue_size
        self._items: deque[ThingEvent] = deque()
        self._reserved = 0
        self._closed = False
        self._getter: asyncio.Future[None] | None = None
        self._waiters: deque[asyncio.Future[None]] = deque()
        self.consumer: asyncio.Task[Any] | None = None

    # ------------------------------------------------------------------ consumer side

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> ThingEvent:
        self.consumer = asyncio.current_task()
        while not self._items:
            if self._closed:
                raise StopAsyncIteration
            self._getter = asyncio.get_running_loop().create_future()
            try:
                await self._getter
            finally:
                self._getter = None
        event = self._items.popleft()
        self._wake_writer()
        return event

    def get_nowait(self) -> ThingEvent | None:
        """The next queued event, or `None` when the queue is empty."""
        if not self._items:
            return None
        event = self._items.popleft()
        self._wake_writer()
        return event

    @property
    def pending(self) -> int:
        """Events queued and not yet taken."""
        return len(self._items)

    @property
    def closed(self) -> bool:
        return self._closed

    async def aclose(self) -> None:
        """Stop receiving: queued events are discarded and waiting writers released."""
        if self._closed:
            return
        self._closed = True
        self._hub._remove(self)
        self._items.clear()
        if self._getter is not None and not self._getter.done():
            self._getter.set_result(None)
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)

    # ------------------------------------------------------------------ writer side

    def _wake_writer(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def _reserve(self) -> bool:
        """Wait for a free slot and hold it; `False` when the subscription closed meanwhile."""
        while len(self._items) + self._reserved >= self._max:
            if self._closed:
                return False
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except BaseException:
                # Pass the wake-up on, or a slot would stay free with a writer waiting.
                if waiter.done() and not waiter.cancelled():
                    self._wake_writer()
                raise
        if self._closed:
            return False
        self._reserved += 1
        return True

    def _release(self) -> None:
        self._reserved -= 1
        if len(self._items) + self._reserved < self._max:
            self._wake_writer()

    def _put(self, event: ThingEvent) -> None:
        if self._closed:
            return
        self._items.append(event)
        if self._getter is not None and not self._getter.done():
            self._getter.set_result(None)

    def _offer(self, event: ThingEvent, view: View) -> None:
        chosen = event if self._accept is None else self._accept(event, view)
        if chosen is not None:
            self._put(chosen)


class Reservation:
    """Queue slots held by one write, one per subscription open when the write began."""

    __slots__ = ("_done", "_subs")

    def __init__(self, subs: list[EventSubscription]) -> None:
        self._subs = subs
        self._done = False


class EventHub:
    """Fans the store's events out to subscriptions (see the module docstring for the policy)."""

    def __init__(self, queue_size: int = 1000) -> None:
        self.queue_size = queue_size
        self._subs: list[EventSubscription] = []

    def subscribe(self, accept: Accept | None = None, *, queue_size: int | None = None) -> EventSubscription:
        sub = EventSubscription(self, accept, queue_size or self.queue_size)
        self._subs.append(sub)
        return sub

    def _remove(self, sub: EventSubscription) -> None:
        if sub in self._subs:
            self._subs.remove(sub)

    @property
    def subscriptions(self) -> int:
        return len(self._subs)

    def reserve_now(self) -> Reservation | None:
        """`reserve` when every open subscription has room (nothing to wait for); `None` otherwise."""
        subs = self._subs
        for sub in subs:
            if len(sub._items) + sub._reserved >= sub._max:
                return None
        held = [sub for sub in subs if not sub._closed]
        for sub in held:
            sub._reserved += 1
        return Reservation(held)

    async def reserve(self) -> Reservation:
        """Hold a slot in every open subscription's queue (except the current task's own)."""
        me = asyncio.current_task()
        held: list[EventSubscription] = []
        try:
            for sub in list(self._subs):
                if sub.consumer is not None and sub.consumer is me:
                    continue
                if await sub._reserve():
                    held.append(sub)
        except BaseException:
            for sub in held:
                sub._release()
            raise
        return Reservation(held)

    def deliver(self, reservation: Reservation, event: ThingEvent, view: View) -> None:
        """Put `event` into every open subscription that accepts it, using the reserved slots."""
        for sub in reservation._subs:
            sub._reserved -= 1
        reservation._done = True
        for sub in list(self._subs):
            sub._offer(event, view)
        for sub in reservation._subs:
            if sub.closed:
                continue
            if len(sub._items) + sub._reserved < sub._max:
                sub._wake_writer()

    def release(self, reservation: Reservation) -> None:
        """Give the slots back when the write failed (or after `deliver`, a no-op)."""
        if reservation._done:
            return
        reservation._done = True
        for sub in reservation._subs:
            sub._release()


def event_selector(
    *,
    namespaces: Collection[str] | None = None,
    filter: str | None = None,  # noqa: A002 - Ditto's parameter name
    extra_fields: str | None = None,
) -> Accept:
    """What a subscription with Ditto's `namespaces`, `filter` and `extraFields` lets through.

    The RQL filter applies to the thing after the change (before it, for a deleted thing), with
    `_revision`, `_modified`, ... visible; `extra_fields` selects parts of that thing into
    `ThingEvent.extra`. `namespaces` is used as given, so a collection may match by pattern.
    """
    predicate = None
    if filter is not None:
        from centinela.twin.rql import compile_filter

        predicate = compile_filter(filter)
    selectors = parse_fields(extra_fields) if extra_fields is not None else None
    # Selectors that name no `_revision`-like member read the stored thing, not the costlier view.
    specials = selectors is not None and any(s and s[0].startswith("_") for s in selectors)
    select = compile_fields(selectors) if selectors is not None else None

    def accept(event: ThingEvent, view: View) -> ThingEvent | None:
        if namespaces is not None and namespace_of(event.thing_id) not in namespaces:
            return None
        if predicate is not None:
            thing = view()
            if thing is None or not predicate(thing):
                return None
        if select is not None:
            extra: Mapping[str, Any]
            if specials:  # `_policy` and the like may change later: picked now
                thing = view()
                extra = select(thing) if thing is not None else {}
            else:
                extra = LazyExtra(select, lambda: view.thing)
            return ThingEvent(
                event.thing_id,
                event.action,
                event.path,
                event.value,
                event.revision,
                event.timestamp,
                event.headers,
                extra,
            )
        return event

    return accept
