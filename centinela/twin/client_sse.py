"""Ditto's server-sent events (`GET /api/2/things`, `Accept: text/event-stream`) from the client side."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Sequence
from types import TracebackType
from typing import Any, Self

import httpx

from centinela.errors import TwinError
from centinela.ports import ThingEvent
from centinela.twin.client_auth import DittoEndpoint
from centinela.twin.client_ws import Backoff

__all__ = ["SseSubscription", "decode_sse_thing"]

JSON = Any
_log = logging.getLogger(__name__)


def decode_sse_thing(data: JSON) -> ThingEvent | None:
    """An SSE message (the changed part of a thing) as a `merged` event at `/`.

    SSE carries thing JSON, not the command's path, so the event is the merge patch that brings a
    copy of the thing up to date; `revision` is the `_revision` when the stream selected it, else 0.
    """
    if not isinstance(data, dict) or not isinstance(data.get("thingId"), str):
        return None
    value = {k: v for k, v in data.items() if not k.startswith("_")}
    revision = data.get("_revision")
    return ThingEvent(
        thing_id=data["thingId"],
        action="merged",
        path="/",
        value=value,
        revision=int(revision) if isinstance(revision, int) else 0,
    )


class SseSubscription:
    """Twin events from Ditto's SSE endpoint; reconnects with backoff. `async with` waits for the stream."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        endpoint: DittoEndpoint,
        *,
        ids: Sequence[str] | None = None,
        namespaces: Sequence[str] | None = None,
        filter: str | None = None,  # noqa: A002 - Ditto's parameter name
        fields: str | None = None,
        extra_fields: str | None = None,
        backoff: Backoff | None = None,
        queue_size: int = 1000,
    ) -> None:
        self._client = client
        self._endpoint = endpoint
        params: dict[str, str] = {}
        for key, value in (
            ("ids", ",".join(ids) if ids else None),
            ("namespaces", ",".join(namespaces) if namespaces else None),
            ("filter", filter),
            ("fields", fields),
            ("extraFields", extra_fields),
        ):
            if value:
                params[key] = value
        self._params = params
        self._backoff = backoff or Backoff()
        self._queue: asyncio.Queue[ThingEvent | BaseException | None] = asyncio.Queue(queue_size)
        self._open = asyncio.Event()
        self.connections = 0
        """How many times the stream was opened (1 + reconnects)."""
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    def _start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        try:
            while not self._closed:
                try:
                    await self._stream()
                except (httpx.TransportError, httpx.StreamError) as exc:
                    _log.warning("The Ditto SSE stream failed (%s); reconnecting.", exc)
                except TwinError as exc:
                    if exc.status < 500:
                        raise  # credentials, scope or parameters: retrying cannot help
                    _log.warning("Ditto answered the SSE request with %s; reconnecting.", exc.status)
                if not self._closed:
                    await asyncio.sleep(self._backoff.next_delay())
        except TwinError as exc:
            await self._queue.put(exc)
            raise

    async def _stream(self) -> None:
        headers = {"Accept": "text/event-stream", **self._endpoint.auth.headers()}
        url = f"{self._endpoint.base_url}/api/2/things"
        timeout = httpx.Timeout(10.0, read=None)
        async with self._client.stream(
            "GET", url, params=self._params, headers=headers, timeout=timeout
        ) as resp:
            if resp.status_code != 200:
                body = await resp.aread()
                raise _error(resp.status_code, body)
            self._backoff.reset()
            self.connections += 1
            self._open.set()
            data: list[str] = []
            async for line in resp.aiter_lines():
                if line.startswith("data:"):
                    data.append(line[5:].removeprefix(" "))
                elif line == "" and data:
                    with contextlib.suppress(json.JSONDecodeError):
                        event = decode_sse_thing(json.loads("\n".join(data)))
                        if event is not None:
                            await self._queue.put(event)
                    data = []

    async def started(self) -> None:
        self._start()
        assert self._task is not None  # noqa: S101 - set by _start
        waiter = asyncio.create_task(self._open.wait())
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

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def _error(status: int, body: bytes) -> TwinError:
    try:
        data = json.loads(body)
    except json.JSONDecodeError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    return TwinError(
        status,
        str(data.get("error", "gateway:http.error")),
        str(data.get("message", f"Ditto answered HTTP {status} to the SSE request.")),
        data.get("description"),
    )
