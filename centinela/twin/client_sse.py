"""Ditto's server-sent events (`GET /api/2/things`, `Accept: text/event-stream`) from the client side."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Sequence
from typing import Any

import httpx

from centinela.errors import TwinError
from centinela.ports import ThingEvent
from centinela.twin.client_auth import DittoEndpoint
from centinela.twin.client_stream import EventStream
from centinela.twin.errors import error_from_body
from centinela.twin.lifecycle import Backoff

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


class SseSubscription(EventStream):
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
        super().__init__(backoff, queue_size)
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
            self._ready.set()
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


def _error(status: int, body: bytes) -> TwinError:
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        data = None
    return error_from_body(status, data, f"Ditto answered HTTP {status} to the SSE request.")
