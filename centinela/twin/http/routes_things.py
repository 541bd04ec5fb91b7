"""HTTP API v2 `/api/2/things`: things and every resource below them, with ETags and conditions."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from centinela.errors import TwinError
from centinela.twin.http.auth import Principal
from centinela.twin.http.backend import Backend
from centinela.twin.http.errors import media_type_unsupported, method_not_allowed
from centinela.twin.http.requests import csv_param, param, read_json
from centinela.twin.http.sse import thing_events_stream, wants_event_stream
from centinela.twin.ids import validate_thing_id

__all__ = ["DEFAULT_NAMESPACE", "routes"]

JSON = Any
DEFAULT_NAMESPACE = "org.eclipse.ditto"
MERGE_PATCH = "application/merge-patch+json"
_PASS_HEADERS = ("correlation-id", "condition", "centinela-origin", "response-required")


def _backend(request: Request) -> Backend:
    backend: Backend = request.app.state.backend
    return backend


def _principal(request: Request) -> Principal:
    principal: Principal = request.scope["centinela.principal"]
    return principal


def _limit(request: Request) -> int:
    limit: int = request.app.state.settings.max_body_bytes
    return limit


def _thing_id(request: Request) -> str:
    raw: str = request.path_params["thing_id"]
    return validate_thing_id(raw)


def _path(request: Request) -> str:
    if "rest" not in request.path_params:
        return "/policyId" if request.url.path.rstrip("/").endswith("/policyId") else "/"
    rest: str = request.path_params["rest"].strip("/")
    return f"/{rest}" if rest else "/"


def _headers(request: Request) -> dict[str, str]:
    headers = {name: request.headers[name] for name in _PASS_HEADERS if name in request.headers}
    # As in Ditto, the authenticated subject is the originator (a new thing's policy names it).
    headers["ditto-originator"] = _principal(request).subject
    condition = param(request.query_params, "condition")
    if condition is not None:
        headers["condition"] = condition
    return headers


async def things_collection(request: Request) -> Response:
    """`/api/2/things`: GET lists (or streams) things, POST creates one."""
    if request.method == "POST":
        return await create_thing(request)
    return await list_things(request)


async def list_things(request: Request) -> Response:
    """`GET /api/2/things?ids=...` (JSON list) or the SSE stream with `Accept: text/event-stream`."""
    if wants_event_stream(request):
        return await thing_events_stream(request)
    principal = _principal(request)
    ids = csv_param(param(request.query_params, "ids"))
    fields = param(request.query_params, "fields")
    store = _backend(request).store
    scope = Backend.scope(principal)
    if ids is None:
        views = store.things(scope)[: request.app.state.settings.search_max_size]
        ids = [str(view["thingId"]) for view in views]
    things: list[JSON] = []
    for raw in ids:
        try:
            result = await store.get(raw, "/", fields=fields, namespaces=scope)
        except TwinError as exc:
            if exc.status == 404:
                continue
            raise
        things.append(result.value)
    return JSONResponse(things)


async def create_thing(request: Request) -> Response:
    """`POST /api/2/things`: create a thing with a generated name in `namespace`."""
    principal = _principal(request)
    body = await read_json(request, _limit(request))
    namespace = param(request.query_params, "namespace") or _default_namespace(principal)
    if isinstance(body, dict) and "thingId" in body:
        msg = "The Thing ID must not be given in the body of a POST; use PUT /api/2/things/{thingId}."
        raise TwinError(400, "things:id.notsettable", msg)
    thing_id = f"{namespace}:{uuid.uuid4()}"
    result = await _backend(request).store.create(
        thing_id, body, headers=_headers(request), namespaces=Backend.scope(principal)
    )
    location = f"{request.url.path.rstrip('/')}/{thing_id}"
    headers = {"Location": location, "ETag": result.etag or f'"rev:{result.revision}"'}
    return JSONResponse(result.value, status_code=201, headers=headers)


def _default_namespace(principal: Principal) -> str:
    exact = [ns for ns in principal.namespaces if "*" not in ns]
    return exact[0] if len(exact) == 1 and not principal.unrestricted else DEFAULT_NAMESPACE


async def thing_resource(request: Request) -> Response:
    """GET / PUT / PATCH / DELETE of a thing or any resource below it."""
    thing_id = _thing_id(request)
    path = _path(request)
    scope = Backend.scope(_principal(request))
    store = _backend(request).store
    method = request.method
    if path == "/policyId" and method == "DELETE":
        raise method_not_allowed(method, str(request.url.path), ("GET", "HEAD", "PUT", "PATCH"))
    headers = _headers(request)
    conditions = {
        "if_match": param(request.headers, "if-match"),
        "if_none_match": param(request.headers, "if-none-match"),
        "condition": headers.get("condition"),
    }
    if method in ("GET", "HEAD"):
        fields = param(request.query_params, "fields")
        try:
            read = await store.get(thing_id, path, fields=fields, namespaces=scope, **conditions)
        except TwinError as exc:
            if exc.status == 304:
                current = await store.get(thing_id, path, namespaces=scope)
                return Response(status_code=304, headers={"ETag": current.etag})
            raise
        return JSONResponse(read.value, headers={"ETag": read.etag})
    if method == "DELETE":
        await store.remove(thing_id, path, headers=headers, namespaces=scope, **conditions)
        return Response(status_code=204)
    if method == "PATCH":
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media != MERGE_PATCH:
            raise media_type_unsupported(media or "(none)", MERGE_PATCH)
    body = await read_json(request, _limit(request))
    if method == "PATCH":
        result = await store.patch(thing_id, path, body, headers=headers, namespaces=scope, **conditions)
    else:
        result = await store.put(thing_id, path, body, headers=headers, namespaces=scope, **conditions)
    etag = {"ETag": result.etag} if result.etag else {}
    if result.created:
        return JSONResponse(
            result.value, status_code=201, headers={"Location": str(request.url.path), **etag}
        )
    return Response(status_code=204, headers=etag)


routes = [
    Route("/api/2/things", things_collection, methods=["GET", "POST"]),
    Route("/api/2/things/{thing_id}", thing_resource, methods=["GET", "PUT", "PATCH", "DELETE"]),
    # policyId cannot be deleted: its own route makes `Allow` say so.
    Route("/api/2/things/{thing_id}/policyId", thing_resource, methods=["GET", "PUT", "PATCH"]),
    Route("/api/2/things/{thing_id}/{rest:path}", thing_resource, methods=["GET", "PUT", "PATCH", "DELETE"]),
]
