"""Ditto's error body for every failure: `TwinError` and HTTP errors become `{status, error, message}`."""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from centinela.errors import TwinError

__all__ = [
    "EXCEPTION_HANDLERS",
    "error_response",
    "media_type_unsupported",
    "method_not_allowed",
    "payload_too_large",
    "resource_not_found",
]

_log = logging.getLogger(__name__)


def error_response(error: TwinError, headers: dict[str, str] | None = None) -> Response:
    """The HTTP answer for `error`: Ditto's JSON body, or an empty 304."""
    if error.status == 304:
        return Response(status_code=304, headers=headers)
    extra = dict(headers or {})
    if error.status == 401:
        extra.setdefault("WWW-Authenticate", 'Basic realm="DITTO"')
    return JSONResponse(error.to_json(), status_code=error.status, headers=extra)


def resource_not_found(path: str) -> TwinError:
    return TwinError(
        404,
        "gateway:resource.notfound",
        f"The requested resource '{path}' could not be found.",
        "Check the path; the twin service implements /api/2/things, /api/2/search/things and /ws/2.",
    )


def method_not_allowed(method: str, path: str) -> TwinError:
    return TwinError(
        405, "gateway:method.notallowed", f"The method '{method}' is not allowed on the resource '{path}'."
    )


def media_type_unsupported(media_type: str, expected: str) -> TwinError:
    return TwinError(
        415,
        "gateway:mediatype.unsupported",
        f"The media type '{media_type}' is not supported by this resource.",
        f"Send the body as '{expected}'.",
    )


def payload_too_large(size: int, limit: int) -> TwinError:
    return TwinError(
        413,
        "things:thing.toolarge",
        f"The request body of {size} bytes exceeds the maximal allowed size of {limit} bytes.",
        "Send a smaller body, e.g. change one feature or property at a time.",
    )


async def _twin_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, TwinError)  # noqa: S101 - registered for TwinError only
    return error_response(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)  # noqa: S101 - registered for HTTPException only
    if exc.status_code == 404:
        return error_response(resource_not_found(request.url.path))
    if exc.status_code == 405:
        return error_response(method_not_allowed(request.method, request.url.path))
    error = TwinError(exc.status_code, "gateway:request.invalid", f"The request failed: {exc.detail}.")
    return error_response(error)


async def _unexpected(request: Request, exc: Exception) -> Response:
    _log.exception("The twin service failed on %s %s.", request.method, request.url.path)
    error = TwinError(
        500,
        "gateway:internalerror",
        f"The twin service could not handle {request.method} {request.url.path}.",
    )
    return error_response(error)


EXCEPTION_HANDLERS = {TwinError: _twin_error, HTTPException: _http_error, Exception: _unexpected}
