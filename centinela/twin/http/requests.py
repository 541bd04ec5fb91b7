"""Request helpers: bounded JSON bodies and query parameters as Ditto reads them."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request

from centinela.twin.errors import invalid_json
from centinela.twin.http.errors import payload_too_large

__all__ = ["csv_param", "ditto_headers", "param", "read_body", "read_json"]

JSON = Any

# Headers that describe the transport or the credentials, not the command: Ditto drops these
# (its protocol header blocklist and its authentication) and forwards every other request header
# to the command and to the event the command causes.
_NOT_FORWARDED = frozenset({
    "accept-encoding", "authorization", "cache-control", "connection", "content-length", "cookie",
    "host", "keep-alive", "proxy-authorization", "raw-request-url", "te", "timeout-access", "trailer",
    "transfer-encoding", "upgrade", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto",
    "x-forwarded-user", "x-real-ip",
})  # fmt: skip
# Headers Ditto sets itself and never reads from a client (the originator, the auth context, ...).
_INTERNAL_PREFIXES = ("ditto-", "sec-websocket-")


def _reject_constant(name: str) -> JSON:
    msg = f"The JSON body contains '{name}', which is not a JSON value."
    raise invalid_json(msg)


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 once it passes `limit` bytes (read no further)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise payload_too_large(int(declared), limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise payload_too_large(size, limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json(request: Request, limit: int) -> JSON:
    """The request body decoded as one JSON value; 400 `json.invalid` naming the problem."""
    body = await read_body(request, limit)
    if not body.strip():
        msg = "The request body is empty; a JSON value was expected."
        raise invalid_json(msg)
    try:
        return json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError:
        msg = "The request body is not UTF-8 encoded JSON."
        raise invalid_json(msg) from None
    except json.JSONDecodeError as exc:
        msg = f"Failed to parse JSON body: {exc.msg} at line {exc.lineno}, column {exc.colno}."
        raise invalid_json(msg, "Check that the request body is valid JSON.") from None
    except RecursionError:
        msg = "The JSON body is nested too deeply."
        raise invalid_json(msg) from None


def ditto_headers(headers: Mapping[str, JSON]) -> dict[str, JSON]:
    """The headers of a request or envelope that travel with the command, names lower-cased.

    As in Ditto, custom headers (`put-metadata`, `centinela-source-time`, ...) pass through;
    transport and credential headers and Ditto's internal `ditto-*` headers do not.
    """
    forwarded: dict[str, JSON] = {}
    for name, value in headers.items():
        key = name.lower()
        if key not in _NOT_FORWARDED and not key.startswith(_INTERNAL_PREFIXES):
            forwarded[key] = value
    return forwarded


def param(values: Mapping[str, str], name: str) -> str | None:
    """A query parameter or header, `None` when absent or blank (Ditto ignores empty ones)."""
    value = values.get(name)
    return value if value is not None and value.strip() else None


def csv_param(value: str | None) -> list[str] | None:
    """A comma separated query parameter as a list (None when absent, empty items dropped)."""
    if value is None:
        return None
    return [item.strip() for item in value.split(",") if item.strip()]
