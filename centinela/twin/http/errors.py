"""Ditto's error body for every failure: `TwinError` and HTTP errors become `{status, error, message}`."""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from centinela.errors import TwinError

__all__ = [
    "EXCEPTION_HANDLERS",
    "MethodNotAllowed",
    "error_response",
    "media_type_unsupported",
    "nested_too_deeply",
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


class MethodNotAllowed(TwinError):
    """405 with the methods the resource does support (sent as `Allow`)."""

    def __init__(self, method: str, path: str, allow: tuple[str, ...]) -> None:
        super().__init__(
            405,
            "gateway:method.notallowed",
            f"The method '{method}' is not allowed on the resource '{path}'.",
        )
        self.allow = allow


def method_not_allowed(method: str, path: str, allow: tuple[str, ...] = ()) -> MethodNotAllowed:
    return MethodNotAllowed(method, path, allow)


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
    if isinstance(exc, MethodNotAllowed) and exc.allow:
        return error_response(exc, {"Allow": ", ".join(exc.allow)})
    return error_response(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)  # noqa: S101 - registered for HTTPException only
    if exc.status_code == 404:
        return error_response(resource_not_found(request.url.path))
    if exc.status_code == 405:
        allow = dict(exc.headers or {})
        return error_response(method_not_allowed(request.method, request.url.path), allow)
    error = TwinError(exc.status_code, "gateway:request.invalid", f"The request failed: {exc.detail}.")
    return error_response(error)


def nested_too_deeply() -> TwinError:
    return TwinError(
        400,
        "gateway:request.invalid",
        "The request nests expressions or values too deeply to be handled.",
        "Simplify the RQL filter, condition or field selector.",
    )


async def _too_deep(request: Request, exc: Exception) -> Response:
    return error_response(nested_too_deeply())


async def _unexpected(request: Request, exc: Exception) -> Response:
    _log.exception("The twin service failed on %s %s.", request.method, request.url.path)
    error = TwinError(
        500,
        "gateway:internalerror",
        f"The twin service could not handle {request.method} {request.url.path}.",
    )
    return error_response(error)


EXCEPTION_HANDLERS = {
    TwinError: _twin_error,
    HTTPException: _http_error,
    RecursionError: _too_deep,
    Exception: _unexpected,
}
