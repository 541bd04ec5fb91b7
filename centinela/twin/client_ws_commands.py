"""Ditto Protocol commands over one persistent `/ws/2` connection, pipelined by correlation id."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import uuid
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import InvalidStatus, WebSocketException

from centinela.errors import TwinError
from centinela.twin.client_auth import DittoEndpoint
from centinela.twin.client_ws import Backoff, open_ws, refused

__all__ = ["WsCommandChannel"]

JSON = Any
_log = logging.getLogger(__name__)


def _unavailable(endpoint: DittoEndpoint, reason: object) -> TwinError:
    msg = f"The Ditto WebSocket {endpoint.ws_url} is not available: {reason}."
    return TwinError(503, "gateway:service.unavailable", msg)


class WsCommandChannel:
    """Sends commands and matches responses by `correlation-id`; many may be in flight at once.

    The connection opens on the first command and again, after a backoff, on the first command
    after it was lost. Commands in flight when it drops fail with 503: they are not resent, since
    Ditto may have applied them already.
    """

    def __init__(
        self, endpoint: DittoEndpoint, *, timeout: float = 10.0, backoff: Backoff | None = None
    ) -> None:
        self._endpoint = endpoint
        self._timeout = timeout
        self._backoff = backoff or Backoff()
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._pending: dict[str, asyncio.Future[dict[str, JSON]]] = {}
        self._lock = asyncio.Lock()
        self._retry_at = 0.0
        self._prefix = uuid.uuid4().hex[:12]
        self._ids = itertools.count(1)
        self._closed = False

    async def _connection(self) -> ClientConnection:
        if self._ws is not None and self._reader is not None and not self._reader.done():
            return self._ws
        async with self._lock:
            if self._ws is not None and self._reader is not None and not self._reader.done():
                return self._ws
            if self._closed:
                raise _unavailable(self._endpoint, "the channel is closed")
            loop = asyncio.get_running_loop()
            await asyncio.sleep(max(0.0, self._retry_at - loop.time()))
            try:
                ws = await open_ws(self._endpoint, self._timeout)
            except InvalidStatus as exc:
                raise refused(exc) from None
            except (OSError, WebSocketException, TimeoutError) as exc:
                self._retry_at = loop.time() + self._backoff.next_delay()
                raise _unavailable(self._endpoint, exc) from None
            self._backoff.reset()
            self._ws = ws
            self._reader = asyncio.create_task(self._read(ws))
            return ws

    async def _read(self, ws: ClientConnection) -> None:
        reason: object = "the connection closed"
        try:
            async for message in ws:
                text = message.decode("utf-8", errors="replace") if isinstance(message, bytes) else message
                if not text.startswith("{"):
                    continue
                try:
                    reply = json.loads(text)
                except json.JSONDecodeError:
                    _log.warning("Ditto sent a message that is not JSON on %s.", self._endpoint.ws_url)
                    continue
                headers = reply.get("headers") if isinstance(reply, dict) else None
                correlation = headers.get("correlation-id") if isinstance(headers, dict) else None
                future = self._pending.pop(str(correlation), None) if correlation is not None else None
                if future is not None and not future.done():
                    future.set_result(reply)
        except (OSError, WebSocketException) as exc:
            reason = exc
        finally:
            failure = _unavailable(self._endpoint, reason)
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(failure)
            self._pending.clear()

    async def request(self, envelope: dict[str, JSON]) -> dict[str, JSON]:
        """Send a command envelope (a `correlation-id` is added when missing); return the response."""
        headers = dict(envelope.get("headers") or {})
        correlation = str(headers.setdefault("correlation-id", f"{self._prefix}-{next(self._ids)}"))
        ws = await self._connection()
        future: asyncio.Future[dict[str, JSON]] = asyncio.get_running_loop().create_future()
        self._pending[correlation] = future
        try:
            await ws.send(
                json.dumps({**envelope, "headers": headers}, separators=(",", ":"), ensure_ascii=False)
            )
            async with asyncio.timeout(self._timeout):
                return await future
        except TimeoutError:
            msg = f"Ditto sent no response for correlation-id '{correlation}' within {self._timeout} s."
            raise TwinError(408, "gateway:command.timeout", msg) from None
        except (OSError, WebSocketException) as exc:
            raise _unavailable(self._endpoint, exc) from None
        finally:
            self._pending.pop(correlation, None)

    async def aclose(self) -> None:
        self._closed = True
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        self._ws = None
