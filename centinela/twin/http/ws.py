"""WebSocket `/ws/2`: Ditto Protocol commands with correlated responses, and twin events on request.

Text frames `START-SEND-EVENTS[?namespaces=..&filter=..&extraFields=..]` and `STOP-SEND-EVENTS` are
answered with `...:ACK`; any other frame is a Ditto Protocol envelope (a twin command) answered with
its response or error envelope carrying the command's `correlation-id`. Events and responses share
one bounded outbound queue; a client that lets it fill up with events is disconnected (code 1008)
rather than slowing the store's writers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any
from urllib.parse import parse_qs

from starlette.websockets import WebSocket, WebSocketDisconnect

from centinela.errors import TwinError
from centinela.twin.http.auth import Principal
from centinela.twin.http.backend import Backend, EventFeed
from centinela.twin.http.errors import nested_too_deeply
from centinela.twin.http.ws_commands import encode_event, handle_envelope

__all__ = ["websocket_endpoint"]

JSON = Any
_log = logging.getLogger(__name__)
_SIGNALS = (
    "START-SEND-EVENTS",
    "STOP-SEND-EVENTS",
    "START-SEND-MESSAGES",
    "STOP-SEND-MESSAGES",
    "START-SEND-LIVE-COMMANDS",
    "STOP-SEND-LIVE-COMMANDS",
    "START-SEND-LIVE-EVENTS",
    "STOP-SEND-LIVE-EVENTS",
    "START-SEND-POLICY-ANNOUNCEMENTS",
    "STOP-SEND-POLICY-ANNOUNCEMENTS",
)


class _TooSlow(Exception):
    """The client did not read its events fast enough."""


class _Connection:
    def __init__(self, websocket: WebSocket, backend: Backend, principal: Principal, queue_size: int) -> None:
        self.ws = websocket
        self.backend = backend
        self.principal = principal
        self.outbound: asyncio.Queue[str] = asyncio.Queue(queue_size)
        self.feed: EventFeed | None = None
        self.pump: asyncio.Task[None] | None = None

    async def run(self) -> None:
        sender = asyncio.create_task(self._send_loop())
        try:
            await self._receive_loop(sender)
        finally:
            await self._stop_events()
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sender

    async def _send_loop(self) -> None:
        while True:
            text = await self.outbound.get()
            await self.ws.send_text(text)

    async def _receive_loop(self, sender: asyncio.Task[None]) -> None:
        while True:
            receive = asyncio.create_task(self.ws.receive_text())
            done, _ = await asyncio.wait({receive, sender}, return_when=asyncio.FIRST_COMPLETED)
            if sender in done:
                receive.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await receive
                return
            try:
                text = receive.result()
            except WebSocketDisconnect:
                return
            await self._handle(text)
            if self.pump is not None and self.pump.done() and self.pump.exception() is not None:
                await self.ws.close(code=1008, reason="The client did not read its events fast enough.")
                return

    async def _handle(self, text: str) -> None:
        try:
            await self._handle_message(text)
        except RecursionError:
            error = nested_too_deeply()
            await self.outbound.put(
                json.dumps(
                    {
                        "topic": "_/_/things/twin/errors",
                        "headers": {},
                        "path": "/",
                        "value": error.to_json(),
                        "status": 400,
                    }
                )
            )

    async def _handle_message(self, text: str) -> None:
        stripped = text.strip()
        signal, _, query = stripped.partition("?")
        if signal in _SIGNALS:
            if signal == "START-SEND-EVENTS":
                try:
                    await self._start_events(query)
                except TwinError as exc:
                    await self.outbound.put(json.dumps({"signal": signal, **exc.to_json()}))
                    return
            elif signal == "STOP-SEND-EVENTS":
                await self._stop_events()
            await self.outbound.put(f"{signal}:ACK")
            return
        response = await handle_envelope(self.backend, self.principal, text)
        await self.outbound.put(json.dumps(response, separators=(",", ":"), ensure_ascii=False))

    async def _start_events(self, query: str) -> None:
        params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=False).items()}
        namespaces = [n for n in params.get("namespaces", "").split(",") if n] or None
        feed = self.backend.subscribe(
            self.principal,
            namespaces=namespaces,
            filter=params.get("filter"),
            extra_fields=params.get("extraFields"),
        )
        await feed.ready()
        await self._stop_events()
        self.feed = feed
        self.pump = asyncio.create_task(self._pump(feed))

    async def _stop_events(self) -> None:
        if self.pump is not None:
            self.pump.cancel()
            with contextlib.suppress(asyncio.CancelledError, _TooSlow):
                await self.pump
            self.pump = None
        if self.feed is not None:
            await self.feed.aclose()
            self.feed = None

    async def _pump(self, feed: EventFeed) -> None:
        while (event := await feed.get()) is not None:
            try:
                self.outbound.put_nowait(encode_event(event))
            except asyncio.QueueFull:
                break
        else:
            if not feed.overflowed:
                return  # the store closed the subscription
        _log.warning("A WebSocket client of %s fell behind; disconnecting it.", self.principal.subject)
        await self.ws.close(code=1008, reason="The client did not read its events fast enough.")
        raise _TooSlow


async def websocket_endpoint(websocket: WebSocket) -> None:
    """Serve one authenticated `/ws/2` connection until the client leaves."""
    principal: Principal = websocket.scope["centinela.principal"]
    backend: Backend = websocket.app.state.backend
    queue_size: int = websocket.app.state.settings.ws_queue_size
    await websocket.accept()
    connection = _Connection(websocket, backend, principal, queue_size)
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        await connection.run()
