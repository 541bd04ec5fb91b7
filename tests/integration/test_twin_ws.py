"""The embedded twin service's WebSocket `/ws/2` over real loopback sockets."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from centinela.errors import TwinError
from centinela.twin.client import DittoTwinStore
from centinela.twin.client_auth import DittoAuth
from centinela.twin.http import TwinServer, TwinServiceSettings, embedded_service
from centinela.twin.store import EmbeddedTwinStore

pytestmark = pytest.mark.integration

AUTH = {"Authorization": "Basic ZGl0dG86ZGl0dG8="}  # ditto:ditto
THING = "org.acme.field:well-7"


def _ws_url(server: TwinServer) -> str:
    return server.url.replace("http://", "ws://") + "/ws/2"


async def _recv(ws: ClientConnection) -> Any:
    text = await asyncio.wait_for(ws.recv(), 5)
    return text if isinstance(text, str) and not text.startswith("{") else json.loads(text)


async def _command(ws: ClientConnection, action: str, path: str, value: Any = None, cid: str = "c") -> Any:
    envelope: dict[str, Any] = {
        "topic": f"org.acme.field/well-7/things/twin/commands/{action}",
        "headers": {"correlation-id": cid},
        "path": path,
    }
    if value is not None:
        envelope["value"] = value
    await ws.send(json.dumps(envelope))
    return await _recv(ws)


async def test_commands_are_answered_with_their_correlation_id() -> None:
    async with embedded_service() as server, connect(_ws_url(server), additional_headers=AUTH) as ws:
        created = await _command(ws, "create", "/", {"attributes": {"site": "north"}}, cid="c-1")
        assert created["status"] == 201
        assert created["headers"]["correlation-id"] == "c-1"
        assert created["topic"] == "org.acme.field/well-7/things/twin/commands/create"
        assert created["value"]["thingId"] == THING
        modified = await _command(ws, "modify", "/attributes/site", "south", cid="c-2")
        assert (modified["status"], modified["headers"]["correlation-id"]) == (204, "c-2")
        merged = await _command(ws, "merge", "/attributes", {"depth": 3}, cid="c-3")
        assert merged["status"] == 204
        got = await _command(ws, "retrieve", "/attributes", cid="c-4")
        assert (got["status"], got["value"]) == (200, {"site": "south", "depth": 3})
        missing = await _command(ws, "retrieve", "/attributes/nope", cid="c-5")
        assert missing["topic"] == "org.acme.field/well-7/things/twin/errors"
        assert (missing["status"], missing["headers"]["correlation-id"]) == (404, "c-5")
        assert missing["value"]["error"] == "things:attribute.notfound"
        deleted = await _command(ws, "delete", "/attributes/depth", cid="c-6")
        assert deleted["status"] == 204


@pytest.mark.parametrize(
    "message",
    [
        "not json",
        "[1, 2]",
        '{"topic": "a/b/things/twin/commands/explode", "path": "/"}',
        '{"topic": "a/b/things/live/commands/modify", "path": "/", "value": {}}',
        '{"topic": "org.acme/x/things/twin/commands/modify", "path": "/"}',
    ],
)
async def test_malformed_messages_get_error_envelopes(message: str) -> None:
    async with embedded_service() as server, connect(_ws_url(server), additional_headers=AUTH) as ws:
        await ws.send(message)
        reply = await _recv(ws)
        assert reply["topic"].split("/")[2:] in (["things", "twin", "errors"], ["things", "live", "errors"])
        assert 400 <= reply["status"] < 500
        ok = await _command(ws, "create", "/", {}, cid="after")
        assert ok["status"] == 201


async def test_start_and_stop_send_events_with_parameters() -> None:
    async with embedded_service() as server, connect(_ws_url(server), additional_headers=AUTH) as ws:
        await ws.send(
            "START-SEND-EVENTS?namespaces=org.acme.field&filter="
            + "eq(attributes/site,%22north%22)&extraFields=attributes/crew"
        )
        assert await _recv(ws) == "START-SEND-EVENTS:ACK"
        async with DittoTwinStore(server.url, auth=DittoAuth.basic("ditto", "ditto")) as client:
            await client.modify("org.other:w", "/", {"attributes": {"site": "north"}})
            await client.modify(THING, "/", {"attributes": {"site": "south", "crew": "A"}})
            await client.merge(THING, "/attributes", {"site": "north"})
            event = await _recv(ws)
            assert event["topic"] == "org.acme.field/well-7/things/twin/events/merged"
            assert (event["path"], event["value"], event["revision"]) == ("/attributes", {"site": "north"}, 2)
            assert event["extra"] == {"attributes": {"crew": "A"}}
            assert event["timestamp"].endswith("Z")
            await ws.send("STOP-SEND-EVENTS")
            assert await _recv(ws) == "STOP-SEND-EVENTS:ACK"
            await client.merge(THING, "/attributes", {"crew": "B"})
            reply = await _command(ws, "retrieve", "/attributes/crew", cid="after-stop")
            assert reply["headers"]["correlation-id"] == "after-stop"  # no event came in between


@pytest.mark.parametrize("rql", ["eq(attributes", "not(" * 3000 + "exists(thingId)" + ")" * 3000])
async def test_bad_filter_is_refused_without_ack(rql: str) -> None:
    async with embedded_service() as server, connect(_ws_url(server), additional_headers=AUTH) as ws:
        await ws.send(f"START-SEND-EVENTS?filter={rql}")
        reply = await _recv(ws)
        assert (reply["status"], reply["error"]) == (400, "rql.expression.invalid")
        await ws.send("START-SEND-EVENTS")
        assert await _recv(ws) == "START-SEND-EVENTS:ACK"


async def test_deeply_nested_condition_on_a_command_is_a_400_rql_error() -> None:
    deep = "not(" * 3000 + "exists(thingId)" + ")" * 3000
    async with embedded_service() as server, connect(_ws_url(server), additional_headers=AUTH) as ws:
        await _command(ws, "create", "/", {"attributes": {"site": "north"}}, cid="c-1")
        envelope = {
            "topic": "org.acme.field/well-7/things/twin/commands/modify",
            "headers": {"correlation-id": "deep", "condition": deep},
            "path": "/attributes/site",
            "value": "south",
        }
        await ws.send(json.dumps(envelope))
        reply = await _recv(ws)
        assert (reply["status"], reply["value"]["error"]) == (400, "rql.expression.invalid")
        assert reply["headers"]["correlation-id"] == "deep"
        assert (await _command(ws, "retrieve", "/attributes/site"))["value"] == "north"


async def test_websocket_requires_credentials() -> None:
    async with embedded_service() as server:
        with pytest.raises(InvalidStatus) as refused:
            async with connect(_ws_url(server)):
                pass
        assert refused.value.response.status_code == 401
        client = DittoTwinStore(server.url, auth=DittoAuth.basic("ditto", "wrong"))
        with pytest.raises(TwinError) as failed:
            async with client.subscribe():
                pass
        assert failed.value.status == 401
        await client.aclose()


async def test_ws_scope_hides_foreign_namespaces() -> None:
    settings = TwinServiceSettings.model_validate(
        {
            "port": 0,
            "users": {"ops": {"password": "pw", "namespaces": ["org.acme.field"]}, "root": {"password": "r"}},
        }
    )
    async with embedded_service(settings) as server:
        ops = DittoTwinStore(server.url, auth=DittoAuth.basic("ops", "pw"))
        root = DittoTwinStore(server.url, auth=DittoAuth.basic("root", "r"))
        async with ops.subscribe() as sub:
            events = aiter(sub)
            await root.modify("org.other:w", "/", {})
            await root.modify(THING, "/", {})
            event = await asyncio.wait_for(anext(events), 5)
            assert event.thing_id == THING
        reply = await ops.command(
            {"topic": "org.other/w/things/twin/commands/retrieve", "headers": {}, "path": "/"}
        )
        assert reply["status"] == 404
        await ops.aclose()
        await root.aclose()


async def test_client_resubscribes_after_the_service_restarts() -> None:
    async with EmbeddedTwinStore() as store:
        first = TwinServer(store, TwinServiceSettings(port=0))
        await first.start()
        port = first.port
        client = DittoTwinStore(first.url, auth=DittoAuth.basic("ditto", "ditto"), backoff_initial=0.05)
        sub = client.subscribe(namespaces=["org.acme.field"])
        await sub.started()
        events = aiter(sub)
        await client.modify(THING, "/", {"attributes": {"n": 1}})
        assert (await asyncio.wait_for(anext(events), 5)).revision == 1
        await first.stop()
        second = TwinServer(store, TwinServiceSettings(port=port or 0))
        await second.start()
        try:
            for _ in range(200):  # wait, bounded, for the subscription to be acknowledged again
                if sub.acks >= 2:
                    break
                await asyncio.sleep(0.05)
            assert (sub.connections, sub.acks) == (2, 2)
            await client.merge(THING, "/attributes", {"n": 2})
            event = await asyncio.wait_for(anext(events), 5)
            assert (event.action, event.revision) == ("merged", 2)
        finally:
            await sub.aclose()
            await client.aclose()
            await second.stop()


async def test_ws_command_channel_pipelines_and_reconnects() -> None:
    async with EmbeddedTwinStore() as store:
        first = TwinServer(store, TwinServiceSettings(port=0))
        await first.start()
        port = first.port
        client = DittoTwinStore(
            first.url, auth=DittoAuth.basic("ditto", "ditto"), commands="ws", backoff_initial=0.01
        )
        await client.modify(THING, "/", {"attributes": {"n": 0}})
        revisions = await asyncio.gather(
            *(client.merge(THING, "/", {"attributes": {"n": i}}) for i in range(1, 21))
        )
        assert sorted(revisions) == list(range(2, 22))
        assert await client.retrieve(THING, "/attributes/n") in range(1, 21)
        await first.stop()
        with pytest.raises(TwinError) as down:
            await client.retrieve(THING)
        assert down.value.status == 503
        second = TwinServer(store, TwinServiceSettings(port=port or 0))
        await second.start()
        try:
            for _ in range(100):  # bounded: the channel reconnects after its backoff
                try:
                    assert await client.merge(THING, "/attributes", {"n": 99}) == 22
                    break
                except TwinError as exc:
                    assert exc.status == 503
                    await asyncio.sleep(0.02)
            assert await client.retrieve(THING, "/attributes/n") == 99
        finally:
            await client.aclose()
            await second.stop()


async def test_oversized_messages_close_the_connection_and_change_nothing() -> None:
    settings = TwinServiceSettings(port=0, max_body_bytes=10_000)
    async with embedded_service(settings) as server, connect(_ws_url(server), additional_headers=AUTH) as ws:
        await ws.send(
            json.dumps(
                {
                    "topic": "org.acme.field/well-7/things/twin/commands/create",
                    "headers": {"correlation-id": "big"},
                    "path": "/",
                    "value": {"attributes": {"blob": "x" * 20_000}},
                }
            )
        )
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    async with embedded_service(settings) as server:
        async with DittoTwinStore(server.url, auth=DittoAuth.basic("ditto", "ditto")) as client:
            with pytest.raises(TwinError) as missing:
                await client.retrieve(THING)
            assert missing.value.status == 404
