"""Server-sent events on `GET /api/2/things` (`Accept: text/event-stream`), as Ditto streams them.

Each twin event becomes one `data:` line holding the changed part of the thing as thing JSON
(`{"thingId": ..., "attributes": {...}}`), reduced to `fields` when given and enriched with
`extraFields`. A deletion is sent as the deleted path set to `null` (a merge patch), so a client
can apply every message the same way. A client that cannot keep up is disconnected rather than
slowing the store's writers.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from centinela.ports import ThingEvent
from centinela.twin.http.auth import Principal
from centinela.twin.http.backend import Backend
from centinela.twin.http.requests import csv_param, param
from centinela.twin.ids import validate_thing_id
from centinela.twin.model import parse_fields, select_fields

__all__ = ["event_as_thing", "thing_events_stream", "wants_event_stream"]

JSON = Any
KEEPALIVE_SECONDS = 15.0


def wants_event_stream(request: Request) -> bool:
    return "text/event-stream" in request.headers.get("accept", "")


def _nest(path: str, value: JSON) -> JSON:
    parts = [p.replace("~1", "/").replace("~0", "~") for p in path.strip("/").split("/") if p]
    for part in reversed(parts):
        value = {part: value}
    return value


def event_as_thing(event: ThingEvent) -> dict[str, JSON]:
    """The thing-shaped JSON of an event: the changed part under its path, plus `thingId`."""
    if event.path in ("", "/"):
        body = dict(event.value) if isinstance(event.value, dict) else {}
    else:
        nested = _nest(event.path, event.value)
        body = dict(nested) if isinstance(nested, dict) else {}
    body["thingId"] = event.thing_id
    body["_revision"] = event.revision
    if event.extra:
        _fill(body, event.extra)
    return body


def _fill(target: dict[str, JSON], extra: Mapping[str, JSON]) -> None:
    """Add `extra`'s members missing from `target`, recursively; the event's own values win."""
    for key, value in extra.items():
        mine = target.get(key)
        if key not in target:
            target[key] = value
        elif isinstance(mine, dict) and isinstance(value, Mapping):
            mine = dict(mine)
            _fill(mine, value)
            target[key] = mine


async def thing_events_stream(request: Request) -> Response:
    """Open the SSE stream for the request's `ids`, `namespaces`, `filter`, `fields`, `extraFields`."""
    principal: Principal = request.scope["centinela.principal"]
    backend: Backend = request.app.state.backend
    params = request.query_params
    ids = csv_param(param(params, "ids"))
    if ids is not None:
        ids = [validate_thing_id(i) for i in ids]
    fields = param(params, "fields")
    selectors = parse_fields(fields) if fields else None
    subscription = backend.subscribe(
        principal,
        namespaces=csv_param(param(params, "namespaces")),
        filter=param(params, "filter"),
        extra_fields=param(params, "extraFields"),
    )
    await subscription.ready()
    wanted = set(ids) if ids is not None else None

    async def stream() -> AsyncIterator[bytes]:
        yield b":\n\n"
        try:
            while True:
                try:
                    event = await asyncio.wait_for(subscription.get(), KEEPALIVE_SECONDS)
                except TimeoutError:
                    yield b":\n\n"
                    continue
                if event is None:
                    return
                if wanted is not None and event.thing_id not in wanted:
                    continue
                body: JSON = event_as_thing(event)
                if selectors is not None:
                    body = select_fields(body, selectors)
                    if not any(key != "thingId" and not key.startswith("_") for key in body):
                        continue  # nothing selected changed
                else:
                    body.pop("_revision", None)
                data = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
                yield f"data:{data}\n\n".encode()
        finally:
            await subscription.aclose()

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
