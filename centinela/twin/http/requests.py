"""Request helpers: bounded JSON bodies, entity tags and `If-Match` / `If-None-Match` preconditions."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from starlette.requests import Request

from centinela.errors import TwinError
from centinela.twin.errors import invalid_json, not_modified, precondition_failed
from centinela.twin.http.errors import payload_too_large

__all__ = ["check_preconditions", "csv_param", "entity_tag", "read_json"]

JSON = Any


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


def csv_param(value: str | None) -> list[str] | None:
    """A comma separated query parameter as a list (None when absent, empty items dropped)."""
    if value is None:
        return None
    return [item.strip() for item in value.split(",") if item.strip()]


def entity_tag(path: str, value: JSON, revision: int) -> str:
    """Ditto's ETag: `"rev:N"` for the whole thing, `"hash:…"` of the value for a sub-resource."""
    if path in ("", "/"):
        return f'"rev:{revision}"'
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:16]
    return f'"hash:{digest}"'


def _tags(header: str) -> list[str]:
    return [tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()]


def check_preconditions(
    if_match: str | None, if_none_match: str | None, current: str | None, *, read: bool
) -> None:
    """Raise 412 (or 304 for reads with `If-None-Match`) when a precondition does not hold.

    `current` is the resource's entity tag, `None` when it does not exist.
    """
    if if_match is not None:
        tags = _tags(if_match)
        holds = current is not None and ("*" in tags or current in tags)
        if not holds:
            msg = "if-match"
            raise precondition_failed(msg, if_match)
    if if_none_match is not None:
        tags = _tags(if_none_match)
        matches = current is not None and ("*" in tags or current in tags)
        if matches:
            if read:
                msg = "if-none-match"
                raise not_modified(msg, if_none_match)
            msg = "if-none-match"
            raise precondition_failed(msg, if_none_match)


def is_twin_error(exc: BaseException, status: int) -> bool:
    return isinstance(exc, TwinError) and exc.status == status
