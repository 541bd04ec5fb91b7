"""The embedded twin service: the Starlette app (HTTP API v2, `/ws/2`, SSE) and its uvicorn server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any, Self

import uvicorn
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from centinela.errors import ConfigError, TwinError
from centinela.twin.http import routes_search, routes_things
from centinela.twin.http.auth import Authenticator
from centinela.twin.http.backend import Backend
from centinela.twin.http.config import TwinServiceSettings
from centinela.twin.http.errors import EXCEPTION_HANDLERS, error_response
from centinela.twin.http.ws import websocket_endpoint
from centinela.twin.store import EmbeddedTwinStore

__all__ = ["AuthMiddleware", "TwinServer", "create_app", "embedded_service"]

_log = logging.getLogger(__name__)


class AuthMiddleware:
    """Authenticates every HTTP and WebSocket request; a failure is answered 401 before routing."""

    def __init__(self, app: ASGIApp, authenticator: Authenticator) -> None:
        self.app = app
        self.authenticator = authenticator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            principal = self.authenticator.authenticate(headers)
        except TwinError as exc:
            response = error_response(exc)
            if scope["type"] == "http":
                await response(scope, receive, send)
            elif "websocket.http.response" in scope.get("extensions", {}):
                await response(scope, receive, send)
            else:
                await send({"type": "websocket.close", "code": 1008, "reason": exc.message[:120]})
            return
        scope["centinela.principal"] = principal
        await self.app(scope, receive, send)


def create_app(store: EmbeddedTwinStore, settings: TwinServiceSettings | None = None) -> Starlette:
    """The ASGI app serving `store`; refuses settings exposing the default user beyond loopback."""
    settings = settings or TwinServiceSettings()
    settings.check()
    app = Starlette(
        routes=[*routes_things.routes, *routes_search.routes, WebSocketRoute("/ws/2", websocket_endpoint)],
        exception_handlers=dict(EXCEPTION_HANDLERS),
    )
    app.state.settings = settings
    app.state.backend = Backend(store, feed_limit=settings.ws_queue_size)
    app.add_middleware(AuthMiddleware, authenticator=Authenticator(settings))
    return app


class TwinServer:
    """Runs the service with uvicorn in the current event loop; `port=0` picks a free port.

    `async with TwinServer(store, settings) as server:` serves until the block ends;
    `server.url` is `http://host:port` once started.
    """

    def __init__(self, store: EmbeddedTwinStore, settings: TwinServiceSettings | None = None) -> None:
        self.settings = settings or TwinServiceSettings()
        self.app = create_app(store, self.settings)
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._watcher: asyncio.Task[None] | None = None
        self.port: int | None = None

    @property
    def url(self) -> str:
        if self.port is None:
            msg = "The twin service has not started yet, so it has no URL."
            raise ConfigError(msg)
        host = self.settings.host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        config = uvicorn.Config(
            self.app,
            host=self.settings.host,
            port=self.settings.port,
            log_level="warning",
            lifespan="off",
            ws="websockets-sansio",
            ws_ping_interval=None,
            ws_max_size=self.settings.max_body_bytes,
            access_log=False,
            timeout_graceful_shutdown=5,
        )
        server = uvicorn.Server(config)
        self._server = server
        self._task = asyncio.create_task(server.serve())
        self._watcher = asyncio.create_task(self._end_streams_on_exit(server))
        while not server.started:
            if self._task.done():
                await self._task
                msg = f"The twin service could not start on {self.settings.host}:{self.settings.port}."
                raise ConfigError(msg)
            await asyncio.sleep(0.01)
        sockets: list[Any] = [s for srv in server.servers for s in srv.sockets]
        self.port = int(sockets[0].getsockname()[1])

    async def _end_streams_on_exit(self, server: uvicorn.Server) -> None:
        # uvicorn waits for open responses before it stops; SSE streams never end by themselves.
        while not server.should_exit:
            await asyncio.sleep(0.1)
        backend: Backend = self.app.state.backend
        await backend.close_feeds()

    async def wait(self) -> None:
        """Return when the server stops (a signal, or `stop()` from another task)."""
        if self._task is not None:
            await self._task

    async def stop(self) -> None:
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        backend: Backend = self.app.state.backend
        await backend.close_feeds()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        self._server = None
        self._task = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


@asynccontextmanager
async def embedded_service(
    settings: TwinServiceSettings | None = None, *, store: EmbeddedTwinStore | None = None
) -> AsyncIterator[TwinServer]:
    """Serve `store` (a new in-memory one by default) until the block ends; `port=0` by default."""
    settings = settings or TwinServiceSettings(port=0)
    own = store is None
    store = store if store is not None else EmbeddedTwinStore()
    await store.open()
    try:
        async with TwinServer(store, settings) as server:
            yield server
    finally:
        if own:
            await store.aclose()
