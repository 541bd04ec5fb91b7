"""`DittoTwinStore`: the `TwinStore` port over Eclipse Ditto's HTTP API v2, WebSocket and SSE."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Literal
from urllib.parse import quote

import httpx

from centinela.errors import TwinError
from centinela.twin.client_auth import DittoAuth, DittoEndpoint, parse_ditto_url
from centinela.twin.client_sse import SseSubscription
from centinela.twin.client_ws import Backoff, WsSubscription
from centinela.twin.client_ws_commands import WsCommandChannel
from centinela.twin.errors import error_from_body
from centinela.twin.ids import validate_thing_id
from centinela.twin.lifecycle import AsyncCloseable

__all__ = ["DittoTwinStore"]

JSON = Any
MERGE_PATCH = "application/merge-patch+json"
_QUERY_HEADERS = ("condition",)
_NO_VALUE: Any = object()


def _resource(thing_id: str, path: str) -> str:
    pointer = "/".join(quote(part, safe="") for part in path.strip("/").split("/") if part)
    url = f"/api/2/things/{quote(thing_id, safe=':')}"
    return f"{url}/{pointer}" if pointer else url


def _revision(etag: str | None) -> int | None:
    if etag and etag.strip('"').startswith("rev:"):
        try:
            return int(etag.strip('"')[4:])
        except ValueError:
            return None
    return None


class DittoTwinStore(AsyncCloseable):
    """A real Eclipse Ditto (or Centinela's embedded twin service) behind the `TwinStore` port.

    Reads and writes use HTTP (`PUT`, `PATCH` with `application/merge-patch+json`, `DELETE`);
    Ditto headers given per call are sent as HTTP headers (`if-match`, `if-none-match`,
    `correlation-id`, ...; `condition` goes to the query). With `commands="ws"` they are Ditto
    Protocol commands pipelined over one WebSocket instead (much faster from Python), the
    headers travelling in the envelope. `subscribe` opens the WebSocket
    (`events="ws"`, the default) or SSE (`events="sse"`). Build one from a URL with `from_url`.
    """

    def __init__(
        self,
        base_url: str,
        *,
        auth: DittoAuth | None = None,
        timeout: float = 10.0,
        page_size: int = 200,
        events: Literal["ws", "sse"] = "ws",
        commands: Literal["http", "ws"] = "http",
        backoff_initial: float = 0.1,
        backoff_max: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.endpoint = DittoEndpoint(base_url.rstrip("/"), auth or DittoAuth())
        self.timeout = timeout
        self.page_size = min(page_size, 200)  # Ditto's largest page
        self.events = events
        self.commands = commands
        self._backoff = (backoff_initial, backoff_max)
        self._channel = WsCommandChannel(self.endpoint, timeout=timeout, backoff=Backoff(*self._backoff))
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=32)
        self._http = httpx.AsyncClient(
            base_url=self.endpoint.base_url,
            headers=self.endpoint.auth.headers(),
            timeout=timeout,
            transport=transport,
            limits=limits,
        )

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> DittoTwinStore:
        """`ditto+http://user:pass@host:port` (or `?token=...`, `?pre-authenticated=...`)."""
        endpoint = parse_ditto_url(url)
        return cls(endpoint.base_url, auth=endpoint.auth, **kwargs)

    # ------------------------------------------------------------------ plumbing

    async def _request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        body: JSON = None,
        content_type: str = "application/json",
        has_body: bool = False,
    ) -> httpx.Response:
        send_headers = {k: v for k, v in (headers or {}).items() if k.lower() not in _QUERY_HEADERS}
        query = dict(params or {})
        for key, value in (headers or {}).items():
            if key.lower() in _QUERY_HEADERS:
                query[key.lower()] = value
        content = None
        if has_body:
            content = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
            send_headers["Content-Type"] = content_type
        try:
            response = await self._http.request(
                method, url, headers=send_headers, params=query, content=content
            )
        except httpx.TimeoutException as exc:
            msg = f"Ditto at {self.endpoint.base_url} did not answer {method} {url} in time: {exc}."
            raise TwinError(408, "gateway:command.timeout", msg) from None
        except httpx.TransportError as exc:
            msg = f"Ditto at {self.endpoint.base_url} could not be reached for {method} {url}: {exc}."
            raise TwinError(503, "gateway:service.unavailable", msg) from None
        if response.status_code >= 300:
            raise _error(response)
        return response

    async def _revision_of(self, thing_id: str, response: httpx.Response) -> int:
        found = _revision(response.headers.get("etag"))
        if found is not None and response.request.url.path.rstrip("/").endswith(quote(thing_id, safe=":")):
            return found
        thing = await self.retrieve(thing_id, "/", fields="_revision")
        return int(thing.get("_revision", 0)) if isinstance(thing, dict) else 0

    async def _ws(
        self,
        action: str,
        thing_id: str,
        path: str,
        *,
        value: JSON = _NO_VALUE,
        headers: Mapping[str, str] | None = None,
        fields: str | None = None,
    ) -> dict[str, JSON]:
        validate_thing_id(thing_id)
        namespace, _, name = thing_id.partition(":")
        envelope: dict[str, JSON] = {
            "topic": f"{namespace}/{name}/things/twin/commands/{action}",
            "headers": dict(headers or {}),
            "path": path or "/",
        }
        if action == "merge":
            envelope["headers"].setdefault("content-type", MERGE_PATCH)
        if value is not _NO_VALUE:
            envelope["value"] = value
        if fields is not None:
            envelope["fields"] = fields
        reply = await self._channel.request(envelope)
        status = reply.get("status")
        topic = str(reply.get("topic", ""))
        if not isinstance(status, int) or status >= 300 or topic.endswith("/errors"):
            value = reply.get("value")
            body: dict[str, JSON] = value if isinstance(value, dict) else {}
            return _raise(int(status) if isinstance(status, int) else 500, body)
        return reply

    async def _ws_revision(self, thing_id: str, path: str, reply: dict[str, JSON]) -> int:
        found = _revision((reply.get("headers") or {}).get("etag")) if path in ("", "/") else None
        if found is not None:
            return found
        thing = (await self._ws("retrieve", thing_id, "/", fields="_revision")).get("value")
        return int(thing.get("_revision", 0)) if isinstance(thing, dict) else 0

    # ------------------------------------------------------------------ TwinStore port

    async def retrieve(self, thing_id: str, path: str = "/", *, fields: str | None = None) -> JSON:
        if self.commands == "ws":
            return (await self._ws("retrieve", thing_id, path, fields=fields)).get("value")
        params = {"fields": fields} if fields is not None else None
        response = await self._request("GET", _resource(thing_id, path), params=params)
        return response.json()

    async def modify(
        self, thing_id: str, path: str, value: JSON, *, headers: Mapping[str, str] | None = None
    ) -> int:
        response = await self._request(
            "PUT", _resource(thing_id, path), headers=headers, body=value, has_body=True
        )
        return await self._revision_of(thing_id, response)

    async def merge(
        self, thing_id: str, path: str, value: JSON, *, headers: Mapping[str, str] | None = None
    ) -> int:
        if self.commands == "ws":
            reply = await self._ws("merge", thing_id, path, value=value, headers=headers)
            return await self._ws_revision(thing_id, path, reply)
        response = await self._request(
            "PATCH",
            _resource(thing_id, path),
            headers=headers,
            body=value,
            content_type=MERGE_PATCH,
            has_body=True,
        )
        return await self._revision_of(thing_id, response)

    async def delete(
        self, thing_id: str, path: str = "/", *, headers: Mapping[str, str] | None = None
    ) -> None:
        if self.commands == "ws":
            await self._ws("delete", thing_id, path, headers=headers)
            return
        await self._request("DELETE", _resource(thing_id, path), headers=headers)

    async def search(
        self,
        *,
        filter: str | None = None,  # noqa: A002 - the port's name
        namespaces: Sequence[str] | None = None,
        fields: str | None = None,
    ) -> AsyncIterator[JSON]:
        cursor: str | None = None
        while True:
            items, cursor = await self.search_page(
                filter=filter, namespaces=namespaces, fields=fields, size=self.page_size, cursor=cursor
            )
            for item in items:
                yield item
            if cursor is None:
                return

    def subscribe(
        self,
        *,
        namespaces: Sequence[str] | None = None,
        filter: str | None = None,  # noqa: A002 - the port's name
        extra_fields: str | None = None,
    ) -> WsSubscription | SseSubscription:
        backoff = Backoff(*self._backoff)
        if self.events == "sse":
            return SseSubscription(
                self._http,
                self.endpoint,
                namespaces=namespaces,
                filter=filter,
                extra_fields=extra_fields,
                backoff=backoff,
            )
        return WsSubscription(
            self.endpoint,
            namespaces=namespaces,
            filter=filter,
            extra_fields=extra_fields,
            timeout=self.timeout,
            backoff=backoff,
        )

    # ------------------------------------------------------------------ beyond the port

    async def search_page(
        self,
        *,
        filter: str | None = None,  # noqa: A002 - Ditto's parameter name
        namespaces: Sequence[str] | None = None,
        fields: str | None = None,
        sort: str | None = None,
        size: int | None = None,
        cursor: str | None = None,
    ) -> tuple[list[JSON], str | None]:
        """One page of `GET /api/2/search/things` and the cursor of the next (`None` at the end)."""
        params = _search_params(filter, namespaces)
        if fields:
            params["fields"] = fields
        options = [f"sort({sort})"] if sort else []
        options.append(f"size({size or self.page_size})")
        if cursor:
            options.append(f"cursor({cursor})")
        params["option"] = ",".join(options)
        body = (await self._request("GET", "/api/2/search/things", params=params)).json()
        items = body.get("items", []) if isinstance(body, dict) else []
        following = body.get("cursor") if isinstance(body, dict) else None
        return items, following if isinstance(following, str) and following else None

    async def count(self, *, filter: str | None = None, namespaces: Sequence[str] | None = None) -> int:  # noqa: A002
        """`GET /api/2/search/things/count`."""
        params = _search_params(filter, namespaces)
        return int((await self._request("GET", "/api/2/search/things/count", params=params)).json())

    def subscribe_sse(
        self,
        *,
        ids: Sequence[str] | None = None,
        namespaces: Sequence[str] | None = None,
        filter: str | None = None,  # noqa: A002 - Ditto's parameter name
        fields: str | None = None,
        extra_fields: str | None = None,
    ) -> SseSubscription:
        """Ditto's SSE stream of changed thing parts (each a `merged` event at `/`)."""
        return SseSubscription(
            self._http,
            self.endpoint,
            ids=ids,
            namespaces=namespaces,
            filter=filter,
            fields=fields,
            extra_fields=extra_fields,
            backoff=Backoff(*self._backoff),
        )

    async def command(self, envelope: dict[str, JSON]) -> dict[str, JSON]:
        """Send one Ditto Protocol command over `/ws/2`; return the response with its correlation id."""
        return await self._channel.request(envelope)

    async def aclose(self) -> None:
        await self._channel.aclose()
        await self._http.aclose()


def _search_params(filter_: str | None, namespaces: Sequence[str] | None) -> dict[str, str]:
    params: dict[str, str] = {}
    if filter_:
        params["filter"] = filter_
    if namespaces:
        params["namespaces"] = ",".join(namespaces)
    return params


def _raise(status: int, body: Mapping[str, JSON]) -> dict[str, JSON]:
    fallback = f"Ditto answered the command with status {status}."
    raise error_from_body(status, body, fallback, code="gateway:command.failed")


def _error(response: httpx.Response) -> TwinError:
    status = response.status_code
    try:
        data = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        data = None
    if status == 304 and not isinstance(data, dict):
        return TwinError(304, "things:precondition.notmodified", "The resource was not modified.")
    return error_from_body(status, data, f"Ditto answered HTTP {status}: {response.text[:200]}")
