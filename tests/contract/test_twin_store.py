"""Contract of the `TwinStore` port over the embedded store and over `DittoTwinStore` → embedded service."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import pytest

from centinela.errors import TwinError
from centinela.ports import ThingEvent, TwinStore
from centinela.twin.client import DittoTwinStore
from centinela.twin.client_auth import DittoAuth
from centinela.twin.http import embedded_service
from centinela.twin.store import EmbeddedTwinStore

Factory = Callable[[], AbstractAsyncContextManager[TwinStore]]


@asynccontextmanager
async def _embedded() -> AsyncIterator[TwinStore]:
    async with EmbeddedTwinStore() as store:
        yield store


@asynccontextmanager
async def _ditto_client() -> AsyncIterator[TwinStore]:
    async with embedded_service() as server:
        async with DittoTwinStore(server.url, auth=DittoAuth.basic("ditto", "ditto"), page_size=3) as client:
            yield client


@asynccontextmanager
async def _ditto_client_ws() -> AsyncIterator[TwinStore]:
    async with embedded_service() as server:
        auth = DittoAuth.basic("ditto", "ditto")
        async with DittoTwinStore(server.url, auth=auth, page_size=3, commands="ws") as client:
            yield client


FACTORIES: dict[str, Factory] = {
    "embedded": _embedded,
    "ditto-client": _ditto_client,
    "ditto-client-ws-commands": _ditto_client_ws,
}


@pytest.fixture(params=sorted(FACTORIES))
async def store(request: pytest.FixtureRequest) -> AsyncIterator[TwinStore]:
    async with FACTORIES[request.param]() as instance:
        yield instance


WELL = "org.acme.field:well-7"
PUMP = {"properties": {"pressure": 102.5, "unit": "bar"}}


async def _next(events: AsyncIterator[ThingEvent]) -> ThingEvent:
    return await asyncio.wait_for(anext(events), 5)


async def test_is_a_twin_store(store: TwinStore) -> None:
    assert isinstance(store, TwinStore)


async def test_modify_creates_then_revisions_count_changes(store: TwinStore) -> None:
    first = await store.modify(WELL, "/", {"attributes": {"site": "north"}})
    second = await store.modify(WELL, "/features/pump", PUMP)
    third = await store.merge(WELL, "/features/pump/properties", {"pressure": 99.0})
    assert (first, second, third) == (1, 2, 3)
    thing = await store.retrieve(WELL)
    assert thing["thingId"] == WELL
    assert thing["attributes"] == {"site": "north"}
    assert thing["features"]["pump"]["properties"] == {"pressure": 99.0, "unit": "bar"}
    assert await store.retrieve(WELL, "/features/pump/properties/pressure") == 99.0


async def test_merge_null_deletes_and_creates_missing_objects(store: TwinStore) -> None:
    await store.modify(WELL, "/", {"attributes": {"site": "north", "crew": "B"}})
    await store.merge(
        WELL, "/", {"attributes": {"crew": None}, "features": {"flow": {"properties": {"q": 1}}}}
    )
    thing = await store.retrieve(WELL)
    assert thing["attributes"] == {"site": "north"}
    assert thing["features"] == {"flow": {"properties": {"q": 1}}}


async def test_missing_resources_are_ditto_404s(store: TwinStore) -> None:
    with pytest.raises(TwinError) as missing_thing:
        await store.retrieve("org.acme:nothing")
    assert (missing_thing.value.status, missing_thing.value.error) == (404, "things:thing.notfound")
    await store.modify(WELL, "/", {"attributes": {"site": "north"}})
    with pytest.raises(TwinError) as missing_attribute:
        await store.retrieve(WELL, "/attributes/depth")
    assert (missing_attribute.value.status, missing_attribute.value.error) == (
        404,
        "things:attribute.notfound",
    )
    with pytest.raises(TwinError) as missing_delete:
        await store.delete(WELL, "/features/pump")
    assert missing_delete.value.status == 404


async def test_invalid_ids_and_values_change_nothing(store: TwinStore) -> None:
    with pytest.raises(TwinError) as bad_id:
        await store.modify("no-namespace", "/", {})
    assert bad_id.value.status == 400
    await store.modify(WELL, "/", {"attributes": {"site": "north"}})
    with pytest.raises(TwinError) as bad_features:
        await store.modify(WELL, "/features", ["not", "an", "object"])
    assert bad_features.value.status == 400
    thing = await store.retrieve(WELL, fields="_revision,attributes")
    assert thing == {"_revision": 1, "attributes": {"site": "north"}}


async def test_delete_sub_resource_then_thing(store: TwinStore) -> None:
    await store.modify(WELL, "/", {"attributes": {"site": "north", "crew": "B"}})
    await store.delete(WELL, "/attributes/crew")
    assert await store.retrieve(WELL, "/attributes") == {"site": "north"}
    await store.delete(WELL)
    with pytest.raises(TwinError) as gone:
        await store.retrieve(WELL)
    assert gone.value.status == 404


async def test_if_match_and_if_none_match(store: TwinStore) -> None:
    await store.modify(WELL, "/", {"attributes": {"site": "north"}})
    await store.modify(WELL, "/", {"attributes": {"site": "south"}}, headers={"if-match": '"rev:1"'})
    with pytest.raises(TwinError) as stale:
        await store.merge(WELL, "/", {"attributes": {"site": "east"}}, headers={"if-match": '"rev:1"'})
    assert (stale.value.status, stale.value.error) == (412, "things:precondition.failed")
    with pytest.raises(TwinError) as exists:
        await store.modify(WELL, "/", {"attributes": {}}, headers={"if-none-match": "*"})
    assert exists.value.status == 412
    assert await store.retrieve(WELL, "/attributes/site") == "south"


async def test_condition_header(store: TwinStore) -> None:
    await store.modify(WELL, "/", {"attributes": {"site": "north", "depth": 1200}})
    await store.merge(
        WELL, "/attributes", {"depth": 1300}, headers={"condition": "gt(attributes/depth,1000)"}
    )
    with pytest.raises(TwinError) as unmet:
        await store.merge(
            WELL, "/attributes", {"depth": 1}, headers={"condition": "lt(attributes/depth,1000)"}
        )
    assert unmet.value.status == 412
    assert await store.retrieve(WELL, "/attributes/depth") == 1300


async def test_fields_selector_on_retrieve(store: TwinStore) -> None:
    await store.modify(WELL, "/", {"attributes": {"site": "north", "crew": "B"}, "features": {"pump": PUMP}})
    selected = await store.retrieve(WELL, fields="thingId,attributes/site,features/pump/properties/unit")
    assert selected == {
        "thingId": WELL,
        "attributes": {"site": "north"},
        "features": {"pump": {"properties": {"unit": "bar"}}},
    }


async def test_search_filters_namespaces_and_pages(store: TwinStore) -> None:
    for i in range(7):
        await store.modify(f"org.acme.field:well-{i}", "/", {"attributes": {"n": i, "site": "north"}})
    await store.modify("org.other:well-x", "/", {"attributes": {"n": 100, "site": "north"}})
    everything = [t["thingId"] async for t in store.search()]
    assert len(everything) == 8
    scoped = [t["thingId"] async for t in store.search(namespaces=["org.acme.field"])]
    assert sorted(scoped) == [f"org.acme.field:well-{i}" for i in range(7)]
    big = [t async for t in store.search(filter="ge(attributes/n,3)", fields="thingId,attributes/n")]
    assert sorted(t["attributes"]["n"] for t in big) == [3, 4, 5, 6, 100]
    assert all(set(t) == {"thingId", "attributes"} for t in big)


async def test_search_rejects_bad_rql(store: TwinStore) -> None:
    with pytest.raises(TwinError) as bad:
        _ = [t async for t in store.search(filter="eq(attributes/n")]
    assert bad.value.status == 400


async def test_subscribe_receives_events_in_order(store: TwinStore) -> None:
    async with store.subscribe() as sub:
        events = aiter(sub)
        await store.modify(WELL, "/", {"attributes": {"site": "north"}}, headers={"centinela-origin": "t1"})
        await store.merge(WELL, "/attributes", {"site": "south"})
        await store.modify(WELL, "/attributes/depth", 1200)
        await store.delete(WELL, "/attributes/depth")
        got = [await _next(events) for _ in range(4)]
    assert [(e.thing_id, e.action, e.path, e.revision) for e in got] == [
        (WELL, "created", "/", 1),
        (WELL, "merged", "/attributes", 2),
        (WELL, "created", "/attributes/depth", 3),
        (WELL, "deleted", "/attributes/depth", 4),
    ]
    assert got[1].value == {"site": "south"}
    assert got[0].headers.get("centinela-origin") == "t1"
    assert got[0].timestamp is not None


async def test_subscribe_with_namespaces_filter_and_extra_fields(store: TwinStore) -> None:
    other = "org.other:well-1"
    async with store.subscribe(
        namespaces=["org.acme.field"], filter='eq(attributes/site,"north")', extra_fields="attributes/site"
    ) as sub:
        events = aiter(sub)
        await store.modify(other, "/", {"attributes": {"site": "north"}})
        await store.modify(WELL, "/", {"attributes": {"site": "south"}})
        await store.merge(WELL, "/attributes", {"site": "north", "depth": 5})
        event = await _next(events)
    assert (event.thing_id, event.action, event.revision) == (WELL, "merged", 2)
    assert event.extra == {"attributes": {"site": "north"}}
