"""HTTP API v2 search: `/api/2/search/things` and `/count` with RQL, namespaces, fields and paging."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from centinela.twin.http.auth import Principal
from centinela.twin.http.backend import Backend
from centinela.twin.http.errors import media_type_unsupported
from centinela.twin.http.requests import csv_param, param, read_body
from centinela.twin.search import count, search_page

__all__ = ["routes"]

JSON = Any
FORM = "application/x-www-form-urlencoded"


def _scope(principal: Principal, requested: list[str] | None) -> Collection[str] | None:
    if requested is not None:
        return tuple(ns for ns in requested if principal.allows(ns))
    return Backend.scope(principal)


async def _params(request: Request) -> Mapping[str, str]:
    """Query parameters, or for POST the form body (Ditto accepts both)."""
    if request.method != "POST":
        return request.query_params
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = await read_body(request, request.app.state.settings.max_body_bytes)
    if body and media != FORM:
        raise media_type_unsupported(media or "(none)", FORM)
    params: dict[str, str] = dict(request.query_params)
    for key, values in parse_qs(body.decode("utf-8", errors="replace")).items():
        params[key] = values[-1]
    return params


async def search_things(request: Request) -> Response:
    """One page of things matching `filter` (`{"items": [...], "cursor": "..."}`)."""
    params = await _params(request)
    backend: Backend = request.app.state.backend
    principal: Principal = request.scope["centinela.principal"]
    items, cursor = search_page(
        backend.store,
        filter=param(params, "filter"),
        namespaces=_scope(principal, csv_param(param(params, "namespaces"))),
        fields=param(params, "fields"),
        option=param(params, "option"),
    )
    body: dict[str, JSON] = {"items": items}
    if cursor is not None:
        body["cursor"] = cursor
    return JSONResponse(body)


async def count_things(request: Request) -> Response:
    """How many things match `filter` in the requester's namespaces."""
    params = await _params(request)
    backend: Backend = request.app.state.backend
    principal: Principal = request.scope["centinela.principal"]
    total = count(
        backend.store,
        filter=param(params, "filter"),
        namespaces=_scope(principal, csv_param(param(params, "namespaces"))),
    )
    return JSONResponse(total)


routes = [
    Route("/api/2/search/things", search_things, methods=["GET", "POST"]),
    Route("/api/2/search/things/count", count_things, methods=["GET", "POST"]),
]
