"""The part WebSocket and SSE event subscriptions share: a reconnecting task feeding a bounded queue."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Self

from centinela.ports import ThingEvent
from centinela.twin.lifecycle import AsyncCloseable, Backoff

__all__ = ["EventStream"]


class EventStream(AsyncCloseable):
    """Events from Ditto read by a background task (`_run`, written by the subclass).

    The task starts on first use; it sets `_ready` once Ditto accepted the subscription, queues
    events, and ends the iteration by queueing `None` (closed) or an exception (refused).
    `async with` waits until the subscription is ready or failed.
    """

    def __init__(self, backoff: Backoff | None, queue_size: int) -> None:
        self._backoff = backoff or Backoff()
        self._queue: asyncio.Queue[ThingEvent | BaseException | None] = asyncio.Queue(queue_size)
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.connections = 0
        """How many times the connection was established (1 + reconnects)."""

    async def _run(self) -> None:
        raise NotImplementedError

    def _start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run())

    async def started(self) -> None:
        """Wait until Ditto accepted the subscription (raises what made that impossible)."""
        self._start()
        assert self._task is not None  # noqa: S101 - set by _start
        waiter = asyncio.create_task(self._ready.wait())
        done, _ = await asyncio.wait({waiter, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if waiter not in done:
            waiter.cancel()
            await self._task

    def __aiter__(self) -> AsyncIterator[ThingEvent]:
        self._start()
        return self._events()

    async def _events(self) -> AsyncIterator[ThingEvent]:
        while True:
            item = await self._queue.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    async def aclose(self) -> None:
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(None)

    async def __aenter__(self) -> Self:
        await self.started()
        return self
