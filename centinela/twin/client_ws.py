"""Ditto's WebSocket `/ws/2` from the client side: event subscriptions that reconnect, and commands."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import AsyncIterator, Mapping, Sequence
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlencode

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus, WebSocketException

from centinela.errors import TwinError
from centinela.ports import ThingEvent
from centinela.twin.client_auth import DittoEndpoint
from centinela.twin.messages import event_from_envelope
from centinela.twin.protocol import Envelope, Group, Kind

__all__ = ["Backoff", "WsSubscription", "decode_event", "open_ws", "refused"]

JSON = Any
_log = logging.getLogger(__name__)


class Backoff:
    """Exponential backoff with jitter: `initial`, doubling up to `maximum` seconds."""

    def __init__(self, initial: float = 0.1, maximum: float = 5.0) -> None:
        self.initial = initial
        self.maximum = maximum
        self.attempt = 0

    def next_delay(self) -> float:
        delay = min(self.maximum, self.initial * 2.0 ** min(self.attempt, 32))
        self.attempt += 1
        return delay * (0.5 + random.random() / 2)  # noqa: S311 - jitter, not security

    def reset(self) -> None:
        self.attempt = 0


def decode_event(envelope: Mapping[str, JSON]) -> ThingEvent | None:
    """The `ThingEvent` of a `things/<channel>/events/<action>` envelope, `None` for anything else."""
    try:
        message = Envelope.from_json(dict(envelope))
    except TwinError:
        return None
    if message.kind is not Kind.EVENT or message.topic is None or message.topic.group is not Group.THINGS:
        return None
    return event_from_envelope(message)


def _start_signal(namespaces: Sequence[str] | None, filter_: str | None, extra_fields: str | None) -> str:
    params: dict[str, str] = {}
    if namespaces:
        params["namespaces"] = ",".join(namespaces)
    if filter_:
        params["filter"] = filter_
    if extra_fields:
        params["extraFields"] = extra_fields
    return "START-SEND-EVENTS" + (f"?{urlencode(params)}" if params else "")


async def open_ws(endpoint: DittoEndpoint, timeout: float) -> ClientConnection:
    """Open `/ws/2` with the endpoint's credentials."""
    return await connect(
        endpoint.ws_url,
        additional_headers=endpoint.auth.headers(),
        open_timeout=timeout,
        ping_interval=20,
        max_size=16 * 1024 * 1024,
    )


def refused(exc: InvalidStatus) -> TwinError:
    """The `TwinError` for a refused WebSocket handshake."""
    status = exc.response.status_code
    return TwinError(status, "gateway:websocket.refused", f"Ditto refused the WebSocket with HTTP {status}.")


class WsSubscription:
    """Twin events over one WebSocket; reconnects with backoff and sends START-SEND-EVENTS again.

    Entering `async with` waits until Ditto acknowledged the subscription. Events Ditto emitted
    while the connection was down are not replayed (Ditto keeps no per-client backlog).
    """

    def __init__(
        self,
        endpoint: DittoEndpoint,
        *,
        namespaces: Sequence[str] | None = None,
        filter: str | None = None,  # noqa: A002 - Ditto's parameter name
        extra_fields: str | None = None,
        timeout: float = 10.0,
        backoff: Backoff | None = None,
        queue_size: int = 1000,
    ) -> None:
        self._endpoint = endpoint
        self._signal = _start_signal(namespaces, filter, extra_fields)
        self._timeout = timeout
        self._backoff = backoff or Backoff()
        self._queue: asyncio.Queue[ThingEvent | BaseException | None] = asyncio.Queue(queue_size)
        self._acked = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.connections = 0
        """How many times a connection was established (1 + reconnects)."""
        self.acks = 0
        """How many times Ditto acknowledged START-SEND-EVENTS (once per connection)."""

    def _start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run())

    async def started(self) -> None:
        """Wait until Ditto acknowledged START-SEND-EVENTS (raises what made that impossible)."""
        self._start()
        assert self._task is not None  # noqa: S101 - set by _start
        waiter = asyncio.create_task(self._acked.wait())
        done, _ = await asyncio.wait({waiter, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if waiter not in done:
            waiter.cancel()
            await self._task

    async def _run(self) -> None:
        try:
            while not self._closed:
                try:
                    await self._session()
                except InvalidStatus as exc:
                    if exc.response.status_code in (401, 403):
                        raise refused(exc) from None
                    _log.warning("Ditto refused the WebSocket (%s); retrying.", exc.response.status_code)
                except (OSError, WebSocketException, TimeoutError) as exc:
                    _log.warning(
                        "The Ditto WebSocket %s failed (%s); reconnecting.", self._endpoint.ws_url, exc
                    )
                except TwinError as exc:
                    if exc.status < 500:
                        raise  # a refused filter or scope: retrying cannot help
                    _log.warning("Ditto refused START-SEND-EVENTS with %s; retrying.", exc.status)
                if not self._closed:
                    await asyncio.sleep(self._backoff.next_delay())
        except BaseException as exc:
            with contextlib.suppress(asyncio.QueueFull):
                self._queue.put_nowait(exc if isinstance(exc, TwinError) else None)
            raise

    async def _session(self) -> None:
        async with await open_ws(self._endpoint, self._timeout) as ws:
            self.connections += 1
            await ws.send(self._signal)
            async for message in ws:
                if isinstance(message, bytes):
                    message = message.decode("utf-8", errors="replace")
                if message.startswith("START-SEND-EVENTS:ACK"):
                    self._backoff.reset()
                    self.acks += 1
                    self._acked.set()
                    continue
                if not message.startswith("{"):
                    continue
                try:
                    envelope = json.loads(message)
                except json.JSONDecodeError:
                    _log.warning("Ditto sent a message that is not JSON on %s.", self._endpoint.ws_url)
                    continue
                if envelope.get("signal") == "START-SEND-EVENTS" and "status" in envelope:
                    raise TwinError(
                        int(envelope["status"]), str(envelope.get("error")), str(envelope.get("message"))
                    )
                event = decode_event(envelope)
                if event is not None:
                    await self._queue.put(event)

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
