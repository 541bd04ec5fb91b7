"""Ditto's WebSocket `/ws/2` from the client side: event subscriptions that reconnect, and commands."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus, WebSocketException

from centinela.errors import TwinError
from centinela.ports import ThingEvent
from centinela.twin.client_auth import DittoEndpoint
from centinela.twin.client_stream import EventStream
from centinela.twin.lifecycle import Backoff
from centinela.twin.messages import event_from_envelope
from centinela.twin.protocol import Envelope, Group, Kind

__all__ = ["Backoff", "WsSubscription", "decode_event", "open_ws", "refused"]

JSON = Any
_log = logging.getLogger(__name__)


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


class WsSubscription(EventStream):
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
        super().__init__(backoff, queue_size)
        self._endpoint = endpoint
        self._signal = _start_signal(namespaces, filter, extra_fields)
        self._timeout = timeout
        self.acks = 0
        """How many times Ditto acknowledged START-SEND-EVENTS (once per connection)."""

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
                    self._ready.set()
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
