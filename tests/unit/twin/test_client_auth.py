"""`ditto+http://` URLs and the credentials `DittoTwinStore` sends."""

from __future__ import annotations

import pytest

from centinela.errors import ConfigError
from centinela.twin.client import DittoTwinStore
from centinela.twin.client_auth import AuthKind, DittoAuth, parse_ditto_url
from centinela.twin.client_ws import Backoff, decode_event
from centinela.twin.errors import error_from_body


def test_url_with_basic_credentials() -> None:
    endpoint = parse_ditto_url("ditto+http://ops:p%40ss@ditto.local:8080")
    assert endpoint.base_url == "http://ditto.local:8080"
    assert endpoint.ws_url == "ws://ditto.local:8080/ws/2"
    assert endpoint.auth == DittoAuth.basic("ops", "p@ss")
    assert endpoint.auth.headers() == {"Authorization": "Basic b3BzOnBAc3M="}
    assert "p@ss" not in repr(endpoint.auth)


def test_url_with_token_prefix_and_tls() -> None:
    endpoint = parse_ditto_url("ditto+https://ditto.example.org/twins?token=abc")
    assert endpoint.base_url == "https://ditto.example.org/twins"
    assert endpoint.ws_url == "wss://ditto.example.org/twins/ws/2"
    assert endpoint.auth.headers() == {"Authorization": "Bearer abc"}
    pre = parse_ditto_url("ditto+http://127.0.0.1:8080?pre-authenticated=nginx:engine").auth
    assert pre.kind is AuthKind.PRE_AUTHENTICATED
    assert pre.headers() == {"x-ditto-pre-authenticated": "nginx:engine"}


@pytest.mark.parametrize("url", ["kafka://x:1", "ditto+http://", "memory://"])
def test_bad_urls(url: str) -> None:
    with pytest.raises(ConfigError):
        parse_ditto_url(url)


async def test_store_from_url() -> None:
    async with DittoTwinStore.from_url("ditto+http://ditto:ditto@127.0.0.1:1") as store:
        assert store.endpoint.auth.kind is AuthKind.BASIC


def test_backoff_grows_to_its_maximum_and_resets() -> None:
    backoff = Backoff(0.1, 1.0)
    delays = [backoff.next_delay() for _ in range(8)]
    assert 0.05 <= delays[0] <= 0.1
    assert all(d <= 1.0 for d in delays) and delays[-1] >= 0.5
    backoff.reset()
    assert backoff.next_delay() <= 0.1


def test_decode_event_envelope() -> None:
    event = decode_event(
        {
            "topic": "org.acme/well-7/things/twin/events/modified",
            "headers": {"correlation-id": "c-1"},
            "path": "/attributes/site",
            "value": "north",
            "revision": 4,
            "timestamp": "2026-01-01T00:00:00Z",
            "extra": {"attributes": {"crew": "B"}},
        }
    )
    assert event is not None
    assert (event.thing_id, event.action, event.path, event.value, event.revision) == (
        "org.acme:well-7",
        "modified",
        "/attributes/site",
        "north",
        4,
    )
    assert event.timestamp == 1767225600.0
    assert event.extra == {"attributes": {"crew": "B"}}
    assert decode_event({"topic": "org.acme/well-7/things/twin/commands/modify"}) is None


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"status": 412, "error": "things:precondition.failed", "message": "m", "description": "d"},
            (412, "things:precondition.failed", "m", "d"),
        ),
        (
            {"error": "things:thing.notfound", "description": "only d"},
            (404, "things:thing.notfound", "only d", "only d"),
        ),
        ({"status": "x", "message": 7}, (404, "gateway:http.error", "7", None)),
        (None, (404, "gateway:http.error", "fallback text", None)),
        (["not", "an", "object"], (404, "gateway:http.error", "fallback text", None)),
    ],
)
def test_ditto_error_bodies_become_whole_twin_errors(body: object, expected: tuple[object, ...]) -> None:
    error = error_from_body(404, body, "fallback text")
    assert (error.status, error.error, error.message, error.description) == expected
