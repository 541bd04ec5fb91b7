"""Server-sent events of the embedded twin service over real loopback sockets."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from centinela.twin.client import DittoTwinStore
from centinela.twin.client_auth import DittoAuth
from centinela.twin.http import TwinServer, TwinServiceSettings, embedded_service
from centinela.twin.store import EmbeddedTwinStore

pytestmark = pytest.mark.integration

THING = "org.eclipse.ditto:fancy-thing"


async def _data(lines: AsyncIterator[str]) -> Any:
    async def first() -> Any:
        async for line in lines:
            if line.startswith("data:"):
                return json.loads(line[5:])
        return None

    return await asyncio.wait_for(first(), 5)


async def test_sse_stream_with_ids_and_fields_as_in_dittos_docs(shared_ditto: Any) -> None:
    snippets = shared_ditto / "docs-snippets" / "httpapi-sse"
    thing = json.loads((snippets / "01-example-javascript-eventsource.json").read_text())
    expected = json.loads((snippets / "02-example-javascript-eventsource.json").read_text())
    async with embedded_service() as server:
        async with DittoTwinStore(server.url, auth=DittoAuth.basic("ditto", "ditto")) as client:
            await client.modify(THING, "/", thing)
            params = {"ids": THING, "fields": "thingId,features/lamp"}
            headers = {"Accept": "text/event-stream"}
            async with httpx.AsyncClient(base_url=server.url, auth=("ditto", "ditto")) as http:
                async with http.stream("GET", "/api/2/things", params=params, headers=headers) as response:
                    assert response.status_code == 200
                    assert response.headers["content-type"].startswith("text/event-stream")
                    lines = response.aiter_lines()
                    await client.modify(
                        "org.eclipse.ditto:other", "/", {"features": thing["features"]}
                    )  # another id: not sent
                    await client.modify(THING, "/attributes/manufacturer", "Other corp")  # no lamp: not sent
                    await client.modify(THING, "/features/lamp/properties/on", False)
                    assert await _data(lines) == expected


async def test_sse_namespaces_filter_and_extra_fields() -> None:
    async with embedded_service() as server:
        async with DittoTwinStore(server.url, auth=DittoAuth.basic("ditto", "ditto")) as client:
            params = {
                "namespaces": "org.acme",
                "filter": "gt(attributes/n,1)",
                "extraFields": "attributes/site",
            }
            headers = {"Accept": "text/event-stream"}
            async with httpx.AsyncClient(base_url=server.url, auth=("ditto", "ditto")) as http:
                async with http.stream("GET", "/api/2/things", params=params, headers=headers) as response:
                    lines = response.aiter_lines()
                    await client.modify("org.other:a", "/", {"attributes": {"n": 5}})
                    await client.modify("org.acme:a", "/", {"attributes": {"n": 1, "site": "north"}})
                    await client.merge("org.acme:a", "/attributes", {"n": 2})
                    data = await _data(lines)
    assert data == {"thingId": "org.acme:a", "attributes": {"n": 2, "site": "north"}}


async def test_sse_requires_credentials() -> None:
    async with embedded_service() as server, httpx.AsyncClient(base_url=server.url) as http:
        response = await http.get("/api/2/things", headers={"Accept": "text/event-stream"})
        assert response.status_code == 401


async def test_client_subscription_over_sse() -> None:
    async with embedded_service() as server:
        client = DittoTwinStore(server.url, auth=DittoAuth.basic("ditto", "ditto"), events="sse")
        async with client:
            async with client.subscribe(namespaces=["org.acme"]) as sub:
                events = aiter(sub)
                await client.modify("org.acme:w1", "/", {"attributes": {"n": 1}})
                await client.merge("org.acme:w1", "/attributes", {"n": 2})
                first = await asyncio.wait_for(anext(events), 5)
                second = await asyncio.wait_for(anext(events), 5)
            assert (first.thing_id, first.action, first.path) == ("org.acme:w1", "merged", "/")
            assert first.value["attributes"] == {"n": 1}
            assert second.value == {"thingId": "org.acme:w1", "attributes": {"n": 2}}
            streamed = client.subscribe_sse(ids=["org.acme:w1"], fields="thingId,_revision,attributes")
            async with streamed:
                events = aiter(streamed)
                await client.merge("org.acme:w1", "/attributes", {"n": 3})
                third = await asyncio.wait_for(anext(events), 5)
            assert (third.revision, third.value["attributes"]) == (3, {"n": 3})


async def test_client_sse_reconnects_after_the_service_restarts() -> None:
    async with EmbeddedTwinStore() as store:
        first = TwinServer(store, TwinServiceSettings(port=0))
        await first.start()
        port = first.port
        client = DittoTwinStore(
            first.url, auth=DittoAuth.basic("ditto", "ditto"), events="sse", backoff_initial=0.05
        )
        sub = client.subscribe(namespaces=["org.acme"])
        await sub.started()
        events = aiter(sub)
        await client.modify("org.acme:w1", "/", {"attributes": {"n": 1}})
        assert (await asyncio.wait_for(anext(events), 5)).value["attributes"] == {"n": 1}
        await first.stop()
        second = TwinServer(store, TwinServiceSettings(port=port or 0))
        await second.start()
        try:
            for _ in range(200):  # wait, bounded, for the stream to be opened again
                if sub.connections >= 2:
                    break
                await asyncio.sleep(0.05)
            assert sub.connections == 2
            await client.merge("org.acme:w1", "/attributes", {"n": 2})
            event = await asyncio.wait_for(anext(events), 5)
            assert event.value["attributes"] == {"n": 2}
        finally:
            await sub.aclose()
            await client.aclose()
            await second.stop()
