"""The HTTP API v2 of the embedded twin service, driven in process through httpx's ASGI transport."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest

from centinela.twin.http import TwinServiceSettings, create_app
from centinela.twin.store import EmbeddedTwinStore

THING = "org.acme.field:well-7"
URL = f"/api/2/things/{THING}"
MERGE = {"content-type": "application/merge-patch+json"}


@pytest.fixture
async def store() -> AsyncIterator[EmbeddedTwinStore]:
    async with EmbeddedTwinStore() as instance:
        yield instance


def _client(
    store: EmbeddedTwinStore, settings: TwinServiceSettings, auth: httpx.Auth | None
) -> httpx.AsyncClient:
    app = create_app(store, settings)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1", auth=auth)


@pytest.fixture
async def http(store: EmbeddedTwinStore) -> AsyncIterator[httpx.AsyncClient]:
    settings = TwinServiceSettings(max_body_bytes=400_000)
    async with _client(store, settings, httpx.BasicAuth("ditto", "ditto")) as client:
        yield client


async def _create(http: httpx.AsyncClient) -> None:
    body = {"attributes": {"site": "north", "depth": 1200}, "features": {"pump": {"properties": {"p": 1}}}}
    response = await http.put(URL, json=body)
    assert response.status_code == 201, response.text


async def test_put_creates_201_then_modifies_204_with_etags(http: httpx.AsyncClient) -> None:
    created = await http.put(URL, json={"attributes": {"site": "north"}})
    assert created.status_code == 201
    assert created.json()["thingId"] == THING
    assert created.headers["etag"] == '"rev:1"'
    assert created.headers["location"].endswith(URL)
    modified = await http.put(URL, json={"attributes": {"site": "south"}})
    assert (modified.status_code, modified.headers["etag"]) == (204, '"rev:2"')
    new_attr = await http.put(f"{URL}/attributes/depth", json=1300)
    assert (new_attr.status_code, new_attr.json()) == (201, 1300)
    assert new_attr.headers["etag"].startswith('"hash:')
    fetched = await http.get(URL)
    assert fetched.headers["etag"] == '"rev:3"'
    head = await http.head(f"{URL}/attributes")
    assert (head.status_code, head.content) == (200, b"")
    assert (await http.head(f"{URL}/attributes/missing")).status_code == 404
    assert fetched.json()["attributes"] == {"site": "south", "depth": 1300}


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("/definition", "org.acme:well:1.0.0"),
        ("/policyId", "org.acme.field:shared-policy"),
        ("/attributes/location/lat", 44.6),
        ("/features/pump/definition", ["org.acme:pump:1.0.0"]),
        ("/features/pump/properties/pressure", 101.2),
        ("/features/pump/desiredProperties/pressure", 95.0),
    ],
)
async def test_every_resource_round_trips(http: httpx.AsyncClient, path: str, value: object) -> None:
    await _create(http)
    put = await http.put(f"{URL}{path}", json=value)
    assert put.status_code in (201, 204), put.text
    got = await http.get(f"{URL}{path}")
    assert (got.status_code, got.json()) == (200, value)


async def test_merge_patch_requires_its_media_type(http: httpx.AsyncClient) -> None:
    await _create(http)
    wrong = await http.patch(f"{URL}/attributes", json={"depth": 1})
    assert (wrong.status_code, wrong.json()["status"]) == (415, 415)
    merged = await http.patch(f"{URL}/attributes", content=b'{"depth": null, "crew": "B"}', headers=MERGE)
    assert merged.status_code == 204
    assert (await http.get(f"{URL}/attributes")).json() == {"site": "north", "crew": "B"}


async def test_conditional_requests(http: httpx.AsyncClient) -> None:
    await _create(http)
    etag = (await http.get(URL)).headers["etag"]
    not_modified = await http.get(URL, headers={"if-none-match": etag})
    assert (not_modified.status_code, not_modified.headers["etag"]) == (304, etag)
    again = await http.put(URL, json={"attributes": {}}, headers={"if-none-match": "*"})
    assert (again.status_code, again.json()["error"]) == (412, "things:precondition.failed")
    ok = await http.patch(URL, content=b'{"attributes": {"x": 1}}', headers={**MERGE, "if-match": etag})
    assert ok.status_code == 204
    stale = await http.patch(URL, content=b'{"attributes": {"x": 2}}', headers={**MERGE, "if-match": etag})
    assert stale.status_code == 412
    missing = await http.put(f"{URL}/attributes/new", json=1, headers={"if-match": "*"})
    assert missing.status_code == 412
    assert (await http.get(f"{URL}/attributes/x")).json() == 1


async def test_condition_parameter(http: httpx.AsyncClient) -> None:
    await _create(http)
    unmet = await http.put(
        f"{URL}/attributes/depth", json=5, params={"condition": "lt(attributes/depth,1000)"}
    )
    assert unmet.status_code == 412
    met = await http.put(f"{URL}/attributes/depth", json=5, params={"condition": "gt(attributes/depth,1000)"})
    assert met.status_code == 204
    read = await http.get(URL, params={"condition": "eq(attributes/depth,6)"})
    assert read.status_code == 412


async def test_fields_on_retrieve_and_list(http: httpx.AsyncClient) -> None:
    await _create(http)
    selected = await http.get(URL, params={"fields": "thingId,attributes/site,_revision"})
    assert selected.json() == {"thingId": THING, "attributes": {"site": "north"}, "_revision": 1}
    listed = await http.get("/api/2/things", params={"ids": f"{THING},org.acme:absent", "fields": "thingId"})
    assert listed.json() == [{"thingId": THING}]


async def test_post_creates_with_generated_id(http: httpx.AsyncClient) -> None:
    created = await http.post(
        "/api/2/things", params={"namespace": "org.acme"}, json={"attributes": {"a": 1}}
    )
    assert created.status_code == 201
    thing_id = created.json()["thingId"]
    assert thing_id.startswith("org.acme:")
    assert (await http.get(f"/api/2/things/{thing_id}/attributes/a")).json() == 1


@pytest.mark.parametrize(
    ("method", "path", "content", "status", "error"),
    [
        ("PUT", URL, b'{"attributes": {', 400, "json.invalid"),
        ("PUT", URL, b"", 400, "json.invalid"),
        ("PUT", URL, b'{"n": NaN}', 400, "json.invalid"),
        ("PUT", "/api/2/things/no-namespace", b"{}", 400, "things:id.invalid"),
        ("PUT", f"{URL}/features", b"[1, 2]", 400, None),
        ("PUT", f"{URL}/nonsense/x", b"1", None, None),
        ("GET", "/api/2/search/things?filter=eq(attributes/a", b"", 400, "rql.expression.invalid"),
        ("GET", "/api/2/search/things?option=size(100000)", b"", 400, None),
        ("GET", "/api/2/search/things?option=cursor(zzz)", b"", 400, None),
        ("GET", "/api/2/nothing-here", b"", 404, "gateway:resource.notfound"),
        ("POST", URL, b"{}", 405, "gateway:method.notallowed"),
        ("DELETE", f"{URL}/policyId", b"", 405, None),
        ("GET", f"{URL}/attributes//x", b"", 400, "json.pointer.invalid"),
        ("GET", f"{URL}?fields=(((", b"", 400, None),
        (
            "GET",
            "/api/2/search/things?filter=" + "not(" * 3000 + "exists(thingId)" + ")" * 3000,
            b"",
            400,
            None,
        ),
        ("PUT", f"{URL}/attributes/deep", b"[" * 100_000 + b"]" * 100_000, 400, "json.invalid"),
    ],
)
async def test_bad_input_gets_ditto_4xx_and_changes_nothing(
    http: httpx.AsyncClient, method: str, path: str, content: bytes, status: int | None, error: str | None
) -> None:
    await _create(http)
    response = await http.request(method, path, content=content, headers={"content-type": "application/json"})
    body = response.json()
    assert 400 <= response.status_code < 500
    assert body["status"] == response.status_code
    assert isinstance(body["message"], str) and body["message"]
    if status is not None:
        assert response.status_code == status, body
    if error is not None:
        assert body["error"] == error
    assert (await http.get(URL, params={"fields": "_revision"})).json() == {"_revision": 1}


async def test_oversized_body_is_413(http: httpx.AsyncClient) -> None:
    await _create(http)
    big = json.dumps({"blob": "x" * 500_000}).encode()
    response = await http.put(f"{URL}/attributes/big", content=big)
    assert (response.status_code, response.json()["status"]) == (413, 413)
    assert (await http.get(f"{URL}/attributes/big")).status_code == 404


async def test_search_pages_with_cursor_and_counts(http: httpx.AsyncClient) -> None:
    for i in range(5):
        await http.put(f"/api/2/things/org.acme:w{i}", json={"attributes": {"n": i}})
    await http.put("/api/2/things/org.other:w9", json={"attributes": {"n": 9}})
    seen: list[int] = []
    params = {
        "filter": "lt(attributes/n,9)",
        "option": "sort(-attributes/n),size(2)",
        "fields": "attributes/n",
    }
    for _ in range(5):
        page = (await http.get("/api/2/search/things", params=params)).json()
        seen += [item["attributes"]["n"] for item in page["items"]]
        if "cursor" not in page:
            break
        params["option"] = f"sort(-attributes/n),size(2),cursor({page['cursor']})"
    assert seen == [4, 3, 2, 1, 0]
    count = await http.get("/api/2/search/things/count", params={"namespaces": "org.other"})
    assert count.json() == 1
    posted = await http.post(
        "/api/2/search/things/count",
        content=b"filter=ge(attributes/n,3)",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert posted.json() == 3


async def test_every_request_needs_credentials(store: EmbeddedTwinStore) -> None:
    async with _client(store, TwinServiceSettings(), None) as anonymous:
        response = await anonymous.get(URL)
    assert response.status_code == 401
    assert response.json()["error"] == "gateway:authentication.failed"
    assert response.headers["www-authenticate"].startswith("Basic")
    async with _client(store, TwinServiceSettings(), httpx.BasicAuth("ditto", "wrong")) as wrong:
        assert (await wrong.get("/api/2/search/things")).status_code == 401


async def test_namespaces_are_scoped_per_user(store: EmbeddedTwinStore) -> None:
    settings = TwinServiceSettings.model_validate(
        {
            "users": {
                "ops": {"password": "pw-ops", "namespaces": ["org.acme*"]},
                "root": {"password": "pw-root"},
            },
            "tokens": {"tok-other": {"subject": "other-app", "namespaces": ["org.other"]}},
        }
    )
    async with _client(store, settings, httpx.BasicAuth("root", "pw-root")) as root:
        assert (
            await root.put("/api/2/things/org.other:t1", json={"attributes": {"a": 1}})
        ).status_code == 201
        assert (await root.put(URL, json={"attributes": {"a": 2}})).status_code == 201
    async with _client(store, settings, httpx.BasicAuth("ditto", "ditto")) as default_user:
        assert (await default_user.get(URL)).status_code == 401
    async with _client(store, settings, httpx.BasicAuth("ops", "pw-ops")) as ops:
        assert (await ops.get(URL)).status_code == 200
        foreign = await ops.get("/api/2/things/org.other:t1")
        assert (foreign.status_code, foreign.json()["error"]) == (404, "things:thing.notfound")
        assert (
            await ops.patch("/api/2/things/org.other:t1", content=b"{}", headers=MERGE)
        ).status_code == 404
        assert (await ops.delete("/api/2/things/org.other:t1")).status_code == 404
        created = await ops.put("/api/2/things/org.other:t2", json={})
        assert created.status_code == 403
        found = (await ops.get("/api/2/search/things")).json()["items"]
        assert [item["thingId"] for item in found] == [THING]
        assert (await ops.get("/api/2/search/things/count", params={"namespaces": "org.other"})).json() == 0
    async with _client(store, settings, None) as token_client:
        headers = {"authorization": "Bearer tok-other"}
        assert (await token_client.get("/api/2/things/org.other:t1", headers=headers)).status_code == 200
        assert (await token_client.get(URL, headers=headers)).status_code == 404
        bad = await token_client.get(URL, headers={"authorization": "Bearer nope"})
        assert bad.status_code == 401
    assert store.revision("org.other:t1") == 1
    policy = store.get_policy("org.other:t1")
    assert list(policy["entries"]["DEFAULT"]["subjects"]) == ["nginx:root"]
    assert store.revision("org.other:t2") is None
