"""Behaviour of `EmbeddedTwinStore` (the `TwinStore` port and the lower-level API), memory and SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from centinela.clock import ManualClock
from centinela.errors import TwinError
from centinela.ports import TwinStore
from centinela.twin.persistence import MemoryPersistence, SqlitePersistence
from centinela.twin.store import EmbeddedTwinStore

TID = "acme.field:well-7"
THING: dict[str, Any] = {
    "attributes": {"site": "north", "depth": 2500},
    "features": {
        "pressure": {"properties": {"tubing": 101.5, "casing": 40}, "desiredProperties": {"tubing": 100}}
    },
}


@pytest.fixture(params=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[EmbeddedTwinStore]:
    persistence = MemoryPersistence() if request.param == "memory" else SqlitePersistence(tmp_path / "t.db")
    async with EmbeddedTwinStore(persistence, clock=ManualClock(1000.0)) as instance:
        yield instance


async def _error(awaitable: Any) -> TwinError:
    with pytest.raises(TwinError) as info:
        await awaitable
    return info.value


def test_store_implements_the_port() -> None:
    assert isinstance(EmbeddedTwinStore(), TwinStore)


async def test_create_then_retrieve_every_level(store: EmbeddedTwinStore) -> None:
    created = await store.put(TID, "/", THING)
    assert (created.status, created.revision, created.etag) == (201, 1, '"rev:1"')
    assert created.value == {"thingId": TID, "policyId": TID, **THING}
    assert await store.retrieve(TID) == created.value
    assert await store.retrieve(TID, "/attributes/depth") == 2500
    assert await store.retrieve(TID, "/features/pressure/properties") == {"tubing": 101.5, "casing": 40}
    assert await store.retrieve(TID, "/features/pressure/desiredProperties/tubing") == 100
    assert await store.retrieve(TID, "/policyId") == TID


async def test_revision_increments_by_one_per_change(store: EmbeddedTwinStore) -> None:
    await store.put(TID, "/", THING)
    revisions = [
        await store.modify(TID, "/attributes/site", "south"),
        await store.merge(TID, "/features/pressure/properties", {"tubing": 99, "casing": None}),
        await store.modify(TID, "/definition", "acme:Well:1.0.0"),
        await store.merge(TID, "/", {"attributes": {"operator": "x"}}),
    ]
    await store.delete(TID, "/attributes/operator")
    assert revisions == [2, 3, 4, 5]
    assert store.revision(TID) == 6
    thing = await store.retrieve(TID)
    assert thing["features"]["pressure"]["properties"] == {"tubing": 99}
    assert thing["definition"] == "acme:Well:1.0.0"
    assert thing["attributes"] == {"site": "south", "depth": 2500}


async def test_201_for_new_resources_and_204_for_replaced(store: EmbeddedTwinStore) -> None:
    await store.put(TID, "/", {})
    first = await store.put(TID, "/attributes/site", "north")
    second = await store.put(TID, "/attributes/site", "south")
    assert (first.status, first.value, second.status, second.value) == (201, "north", 204, None)
    feature = await store.put(TID, "/features/flow", {"properties": {"rate": 1}})
    assert feature.status == 201
    assert (await store.put(TID, "/", {"attributes": {}})).status == 204
    assert (await store.patch(TID, "/attributes/x", 1)).status == 204


async def test_not_found_errors_name_the_missing_level(store: EmbeddedTwinStore) -> None:
    missing = await _error(store.retrieve("acme:nope"))
    assert (missing.status, missing.error) == (404, "things:thing.notfound")
    await store.put(TID, "/", {"features": {"bare": {}}})
    cases = {
        "/attributes": "things:attributes.notfound",
        "/attributes/x": "things:attribute.notfound",
        "/definition": "things:definition.notfound",
        "/features/none": "things:feature.notfound",
        "/features/none/properties/x": "things:feature.notfound",
        "/features/bare/properties": "things:feature.properties.notfound",
        "/features/bare/properties/x": "things:feature.properties.notfound",
        "/features/bare/desiredProperties": "things:feature.desiredProperties.notfound",
        "/features/bare/definition": "things:feature.definition.notfound",
    }
    for path, code in cases.items():
        error = await _error(store.retrieve(TID, path))
        assert (error.status, error.error) == (404, code), path
        delete_error = await _error(store.delete(TID, path))
        assert delete_error.error == code, path
    await store.put(TID, "/features/bare/properties", {})
    error = await _error(store.retrieve(TID, "/features/bare/properties/x"))
    assert error.error == "things:feature.property.notfound"
    assert "'/x'" in error.message and "'bare'" in error.message
    error = await _error(store.modify(TID, "/features/none/properties/x", 1))
    assert error.error == "things:feature.notfound"
    assert store.revision(TID) == 2


async def test_writes_below_a_missing_thing_are_404_but_root_creates(store: EmbeddedTwinStore) -> None:
    error = await _error(store.modify(TID, "/attributes/x", 1))
    assert error.error == "things:thing.notfound"
    error = await _error(store.merge(TID, "/attributes", {"x": 1}))
    assert error.error == "things:thing.notfound"
    assert await store.modify(TID, "/", {}) == 1
    sub = store.subscribe()
    merged = await store.patch("acme:merged", "/", {"attributes": {"x": 1, "gone": None}})
    assert (merged.status, merged.revision) == (201, 1)
    assert merged.value == {"thingId": "acme:merged", "policyId": "acme:merged", "attributes": {"x": 1}}
    event = sub.get_nowait()
    assert event is not None and (event.action, event.path) == ("created", "/")
    error = await _error(store.patch("acme:guarded", "/", {"attributes": {}}, if_match="*"))
    assert error.status == 412


async def test_preconditions_may_come_as_ditto_headers(store: EmbeddedTwinStore) -> None:
    await store.modify(TID, "/", {"attributes": {"site": "north", "depth": 1200}})
    error = await _error(
        store.merge(TID, "/", {"attributes": {"site": "e"}}, headers={"If-Match": '"rev:9"'})
    )
    assert error.status == 412
    error = await _error(store.modify(TID, "/", {}, headers={"if-none-match": "*"}))
    assert error.status == 412
    error = await _error(
        store.delete(TID, "/attributes/site", headers={"condition": "lt(attributes/depth,1)"})
    )
    assert (error.status, error.error) == (412, "things:condition.failed")
    assert (
        await store.merge(TID, "/attributes", {"depth": 1}, headers={"condition": "gt(attributes/depth,1)"})
        == 2
    )


async def test_create_conflicts_and_generates_ids(store: EmbeddedTwinStore) -> None:
    await store.create(TID, {})
    error = await _error(store.create(TID, {}))
    assert (error.status, error.error) == (409, "things:thing.conflict")
    generated = await store.create(None, {"attributes": {"a": 1}}, namespaces={"acme.gen"})
    assert generated.value["thingId"].startswith("acme.gen:")
    assert await store.retrieve(generated.value["thingId"], "/attributes/a") == 1


async def test_bad_input_changes_nothing(store: EmbeddedTwinStore) -> None:
    await store.put(TID, "/", THING)
    bad = [
        store.modify(TID, "/attributes", 5),
        store.modify(TID, "/features/pressure/definition", []),
        store.modify(TID, "/features/pressure/definition", ["not a definition"]),
        store.modify(TID, "/features/pressure", {"colour": "red"}),
        store.modify(TID, "/", {"thingId": "acme:other"}),
        store.modify(TID, "/", {"unknown": 1}),
        store.merge(TID, "/", {"features": {"pressure": {"properties": 3}}}),
        store.merge(TID, "/", {"thingId": None}),
        store.merge(TID, "/policyId", None),
        store.delete(TID, "/policyId"),
        store.modify(TID, "/attributes/a//b", 1),
        store.modify(TID, "/nonsense", 1),
        store.modify("not an id", "/", {}),
        store.modify(TID, "/attributes", {"a/b": 1}),
    ]
    codes = []
    for awaitable in bad:
        error = await _error(awaitable)
        assert 400 <= error.status < 500
        codes.append(error.error)
    assert "things:feature.definition.empty" in codes
    assert "things:feature.definition.identifier.invalid" in codes
    assert "things:id.notsettable" in codes
    assert "things:policyId.notdeletable" in codes
    assert "things:id.invalid" in codes
    assert "json.pointer.invalid" in codes
    assert store.revision(TID) == 1
    assert await store.retrieve(TID) == {"thingId": TID, "policyId": TID, **THING}


async def test_values_are_copied_in_and_out(store: EmbeddedTwinStore) -> None:
    value = {"attributes": {"list": [1, 2]}}
    await store.put(TID, "/", value)
    value["attributes"]["list"].append(3)
    out = await store.retrieve(TID)
    out["attributes"]["list"].append(4)
    assert await store.retrieve(TID, "/attributes/list") == [1, 2]


async def test_delete_thing_then_recreate_continues_revisions(store: EmbeddedTwinStore) -> None:
    await store.put(TID, "/", THING)
    await store.delete(TID)
    assert (await _error(store.retrieve(TID))).error == "things:thing.notfound"
    assert store.revision(TID) is None
    assert (await store.put(TID, "/", {})).revision == 3


async def test_field_selectors(store: EmbeddedTwinStore) -> None:
    await store.put(TID, "/", THING)
    await store.modify(TID, "/attributes/site", "east")
    selected = await store.retrieve(
        TID, fields="thingId,attributes/site,features(pressure/properties/tubing)"
    )
    assert selected == {
        "thingId": TID,
        "attributes": {"site": "east"},
        "features": {"pressure": {"properties": {"tubing": 101.5}}},
    }
    meta = await store.retrieve(TID, fields="_revision,_created,_modified,_policy/policyId")
    assert meta["_revision"] == 2
    assert meta["_created"] == meta["_modified"] == "1970-01-01T00:16:40.000000Z"
    assert meta["_policy"] == {"policyId": TID}
    assert await store.retrieve(TID, "/features/pressure/properties", fields="casing") == {"casing": 40}
    error = await _error(store.retrieve(TID, fields="attributes("))
    assert (error.status, error.error) == (400, "json.fieldselector.invalid")


async def test_conditional_requests(store: EmbeddedTwinStore) -> None:
    await store.put(TID, "/", THING)
    got = await store.get(TID)
    assert got.etag == '"rev:1"'
    assert (await store.put(TID, "/", THING, if_match='"rev:1"')).revision == 2
    error = await _error(store.put(TID, "/", {}, if_match='"rev:1"'))
    assert (error.status, error.error) == (412, "things:precondition.failed")
    error = await _error(store.put(TID, "/", {}, if_none_match="*"))
    assert error.status == 412
    created = await store.put("acme:fresh", "/", {}, if_none_match="*")
    assert created.status == 201
    error = await _error(store.put("acme:missing", "/", {}, if_match="*"))
    assert error.status == 412
    attribute = await store.get(TID, "/attributes/site")
    assert attribute.etag.startswith('"hash:')
    error = await _error(store.put(TID, "/attributes/site", "y", if_match='"rev:2"'))
    assert error.status == 412
    error = await _error(store.get(TID, "/attributes/site", if_none_match=attribute.etag))
    assert error.status == 304
    assert (await store.put(TID, "/attributes/site", "z", if_match=attribute.etag)).status == 204
    assert store.revision(TID) == 3


async def test_condition_parameter(store: EmbeddedTwinStore) -> None:
    await store.put(TID, "/", THING)
    error = await _error(store.put(TID, "/attributes/site", "s", condition='eq(attributes/site,"south")'))
    assert (error.status, error.error) == (412, "things:condition.failed")
    done = await store.put(TID, "/attributes/site", "s", condition='eq(attributes/site,"north")')
    assert done.revision == 2
    assert (await store.get(TID, condition="gt(_revision,1)")).revision == 2
    error = await _error(store.put(TID, "/attributes/site", "s", condition="eq(attributes/site"))
    assert (error.status, error.error) == (400, "rql.expression.invalid")


async def test_deeply_nested_rql_is_a_400_everywhere(store: EmbeddedTwinStore) -> None:
    await store.put(TID, "/", THING)
    deep = "not(" * 3000 + "exists(thingId)" + ")" * 3000
    for awaitable in [
        store.put(TID, "/attributes/site", "s", condition=deep),
        store.patch(TID, "/attributes", {"site": "s"}, headers={"condition": deep}),
        store.get(TID, condition=deep),
        store.search_page(filter=deep),
        store.count(filter=deep),
        _sync(store.subscribe, filter=deep),
    ]:
        error = await _error(awaitable)
        assert (error.status, error.error) == (400, "rql.expression.invalid")
    assert store.revision(TID) == 1


async def test_namespaces_scope_hides_other_things(store: EmbeddedTwinStore) -> None:
    await store.put(TID, "/", THING)
    scope = frozenset({"other"})
    for awaitable in [
        store.get(TID, namespaces=scope),
        store.put(TID, "/attributes/x", 1, namespaces=scope),
        store.remove(TID, namespaces=scope),
    ]:
        assert (await _error(awaitable)).status == 404
    error = await _error(store.put("acme:new", "/", {}, namespaces=scope))
    assert error.status == 403
    assert (await store.get(TID, namespaces={"acme.field"})).revision == 1


async def test_default_policy_is_created_and_kept(store: EmbeddedTwinStore) -> None:
    await store.put(TID, "/", {}, headers={"ditto-originator": "pre:alice"})
    policy = store.get_policy(TID)
    assert policy["policyId"] == TID
    assert "pre:alice" in policy["entries"]["DEFAULT"]["subjects"]
    await store.put("acme:b", "/", {"policyId": "acme:shared"})
    assert store.get_policy("acme:shared")["policyId"] == "acme:shared"
    assert (await _error(_sync(store.get_policy, "acme:none"))).error == "policies:policy.notfound"


async def _sync(fn: Any, *args: Any, **kwargs: Any) -> Any:
    return fn(*args, **kwargs)


async def test_search_filter_sort_and_paging(store: EmbeddedTwinStore) -> None:
    for i in range(7):
        await store.put(f"acme:w{i}", "/", {"attributes": {"n": i, "even": i % 2 == 0}})
    await store.put("other:w", "/", {"attributes": {"n": 100}})
    items, cursor = await store.search_page(
        filter="eq(attributes/even,true)", option="sort(-attributes/n),size(2)"
    )
    assert [t["attributes"]["n"] for t in items] == [6, 4]
    assert cursor is not None
    items, cursor = await store.search_page(
        filter="eq(attributes/even,true)", option=f"sort(-attributes/n),size(2),cursor({cursor})"
    )
    assert [t["attributes"]["n"] for t in items] == [2, 0]
    assert cursor is None
    assert await store.count(filter="ge(attributes/n,3)") == 5
    assert await store.count(filter="ge(attributes/n,3)", namespaces=["acme"]) == 4
    found = [t async for t in store.search(filter="lt(attributes/n,2)", fields="thingId")]
    assert found == [{"thingId": "acme:w0"}, {"thingId": "acme:w1"}]
    store.page_size = 2  # the port's search pages through every result
    assert len([t async for t in store.search(namespaces=["acme"])]) == 7
    error = await _error(store.search_page(filter="eq(attributes/n,1)", option="size(2),cursor(bogus)"))
    assert error.status == 400


async def test_sqlite_survives_restart_with_revisions_and_policies(tmp_path: Path) -> None:
    path = tmp_path / "twins.db"
    async with EmbeddedTwinStore(SqlitePersistence(path)) as first:
        await first.put(TID, "/", THING)
        await first.merge(TID, "/attributes", {"site": "east"})
        await first.put("acme:gone", "/", {})
        await first.delete("acme:gone")
    async with EmbeddedTwinStore.from_url(f"sqlite:///{path}") as second:
        assert second.revision(TID) == 2
        assert (await second.retrieve(TID, "/attributes/site")) == "east"
        assert second.get_policy(TID)["policyId"] == TID
        assert (await _error(second.retrieve("acme:gone"))).status == 404
        assert (await second.put("acme:gone", "/", {})).revision == 3


async def test_a_closed_store_refuses_work() -> None:
    store = await EmbeddedTwinStore().open()
    sub = store.subscribe()
    await store.aclose()
    assert [e async for e in sub] == []
    error = await _error(store.put("acme:a", "/", {}))
    assert error.status == 503


async def test_values_that_are_not_json_are_400(store: EmbeddedTwinStore) -> None:
    await store.put(TID, "/", {})
    for value in [float("nan"), float("inf"), {1: "a"}, {"a": {1, 2}}, object(), b"bytes"]:
        error = await _error(store.put(TID, "/attributes/x", value))
        assert (error.status, error.error) == (400, "json.invalid"), value
    assert (await store.put(TID, "/attributes/x", (1, 2))).value == [1, 2]
    assert store.revision(TID) == 2


async def test_events_share_nothing_with_the_stored_thing(store: EmbeddedTwinStore) -> None:
    await store.put(TID, "/", THING)
    async with store.subscribe() as sub:
        await store.merge(TID, "/attributes", {"tags": ["a", "b"], "nested": {"list": [1]}})
        await store.merge(TID, "/features/pressure/properties/history", [{"v": 1}])
        await store.merge(TID, "/", {"attributes": {"more": [2]}})
        events = [sub.get_nowait() for _ in range(3)]
    assert all(event is not None for event in events)
    first, second, third = (event.value for event in events if event is not None)
    first["tags"].append("c")
    first["nested"]["list"].append(2)
    second[0]["v"] = 99
    third["attributes"]["more"].append(3)
    thing = await store.retrieve(TID)
    assert thing["attributes"]["tags"] == ["a", "b"]
    assert thing["attributes"]["nested"] == {"list": [1]}
    assert thing["attributes"]["more"] == [2]
    assert thing["features"]["pressure"]["properties"]["history"] == [{"v": 1}]
