"""`EmbeddedTwinStore.apply`: Ditto Protocol commands in, responses or error envelopes out."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from centinela.twin.messages import command_envelope
from centinela.twin.protocol import ABSENT, Channel, Envelope, Kind, Topic, decode, encode
from centinela.twin.store import EmbeddedTwinStore

TID = "org.acme:pump-1"


@pytest.fixture
async def store() -> AsyncIterator[EmbeddedTwinStore]:
    async with EmbeddedTwinStore() as instance:
        yield instance


def cmd(action: str, path: str = "/", value: Any = ABSENT, **headers: str) -> Envelope:
    return command_envelope(
        TID,
        action,
        path,
        value,
        headers={"correlation-id": "c-1", **{k.replace("_", "-"): v for k, v in headers.items()}},
    )


async def test_create_modify_merge_retrieve_delete(store: EmbeddedTwinStore) -> None:
    created = await store.apply(cmd("create", "/", {"attributes": {"a": 1}}))
    assert (created.kind, created.status, created.headers["correlation-id"]) == (Kind.RESPONSE, 201, "c-1")
    assert created.value == {"thingId": TID, "policyId": TID, "attributes": {"a": 1}}
    assert created.headers["etag"] == '"rev:1"'
    new_attr = await store.apply(cmd("modify", "/attributes/b", 2))
    assert (new_attr.status, new_attr.value) == (201, 2)
    same_attr = await store.apply(cmd("modify", "/attributes/b", 3))
    assert (same_attr.status, same_attr.value) == (204, ABSENT)
    merged = await store.apply(cmd("merge", "/attributes", {"a": None, "c": 4}))
    assert merged.status == 204
    read = await store.apply(cmd("retrieve", "/attributes"))
    assert (read.status, read.value) == (200, {"b": 3, "c": 4})
    fields = await store.apply(
        command_envelope(TID, "retrieve", "/", headers={"correlation-id": "c"}, fields="thingId,_revision")
    )
    assert fields.value == {"thingId": TID, "_revision": 4}
    deleted = await store.apply(cmd("delete", "/attributes/b"))
    assert deleted.status == 204
    gone = await store.apply(cmd("retrieve", "/attributes/b"))
    assert (gone.kind, gone.status, str(gone.topic)) == (
        Kind.ERROR,
        404,
        "org.acme/pump-1/things/twin/errors",
    )
    assert gone.value["error"] == "things:attribute.notfound"
    assert gone.headers["correlation-id"] == "c-1"


async def test_errors_come_back_as_error_envelopes(store: EmbeddedTwinStore) -> None:
    await store.apply(cmd("create", "/", {}))
    cases = {
        "conflict": (cmd("create", "/", {}), 409),
        "missing value": (cmd("modify", "/attributes/x"), 400),
        "bad pointer": (cmd("modify", "/attributes//x", 1), 400),
        "precondition": (cmd("modify", "/", {}, if_match='"rev:9"'), 412),
        "condition": (cmd("modify", "/attributes/x", 1, condition="exists(attributes/nope)"), 412),
        "bad rql": (cmd("modify", "/attributes/x", 1, condition="exists("), 400),
        "not modified": (cmd("retrieve", "/", if_none_match='"rev:1"'), 304),
        "live": (
            command_envelope(TID, "retrieve", headers={"correlation-id": "c"}, channel=Channel.LIVE),
            400,
        ),
        "event in": (Envelope(Topic.parse("org.acme/pump-1/things/twin/events/created"), {}, "/", {}), 400),
        "response in": (
            Envelope(Topic.parse("org.acme/pump-1/things/twin/commands/modify"), {}, "/", {}, status=204),
            400,
        ),
        "no topic": (Envelope(None, {"correlation-id": "z"}), 400),
        "create at path": (cmd("create", "/attributes", {}), 400),
        "many without ids": (command_envelope(None, "retrieve", headers={"correlation-id": "c"}), 400),
    }
    for name, (command, status) in cases.items():
        response = await store.apply(command)
        assert response.kind is Kind.ERROR, name
        assert response.status == status, (name, response.value)
        assert response.value["status"] == status
        assert isinstance(response.value["message"], str) and response.value["message"], name
    assert store.revision(TID) == 1


async def test_namespace_scope(store: EmbeddedTwinStore) -> None:
    await store.apply(cmd("create", "/", {}))
    hidden = await store.apply(cmd("retrieve"), namespaces={"other"})
    assert (hidden.status, hidden.value["error"]) == (404, "things:thing.notfound")
    seen = await store.apply(cmd("retrieve"), namespaces={"org.acme"})
    assert seen.status == 200


async def test_retrieve_many(store: EmbeddedTwinStore) -> None:
    await store.put("org.acme:a", "/", {"attributes": {"n": 1}})
    await store.put("org.acme:b", "/", {"attributes": {"n": 2}})
    await store.put("other:c", "/", {})
    command = command_envelope(
        None,
        "retrieve",
        value={"thingIds": ["org.acme:a", "org.acme:missing", "other:c", "org.acme:b"]},
        headers={"correlation-id": "m"},
        fields="thingId,attributes/n",
    )
    response = await store.apply(command, namespaces={"org.acme"})
    assert response.status == 200
    assert str(response.topic) == "_/_/things/twin/commands/retrieve"  # several namespaces asked
    assert response.value == [
        {"thingId": "org.acme:a", "attributes": {"n": 1}},
        {"thingId": "org.acme:b", "attributes": {"n": 2}},
    ]


async def test_retrieve_many_names_the_namespace_as_ditto_does(
    store: EmbeddedTwinStore, shared_ditto: Path
) -> None:
    examples = shared_ditto / "protocol-examples" / "things" / "commands" / "query"
    command = decode(json.dumps(json.loads((examples / "retrievethings.json").read_text())))
    expected = json.loads((examples / "retrievethingsresponse.json").read_text())
    for thing in expected["value"]:
        await store.put(thing["thingId"], "/", {k: v for k, v in thing.items() if k != "policyId"})
    response = await store.apply(command)
    assert response.status == 200
    assert str(response.topic) == expected["topic"] == "org.eclipse.ditto/_/things/twin/commands/retrieve"
    assert [t["thingId"] for t in response.value] == [t["thingId"] for t in expected["value"]]
    assert decode(encode(response)).topic == response.topic


async def test_policy_commands(store: EmbeddedTwinStore) -> None:
    await store.put(TID, "/", {})
    topic = "org.acme/pump-1/policies/commands/"

    def policy_cmd(action: str, path: str = "/", value: Any = ABSENT) -> Envelope:
        return Envelope(Topic.parse(topic + action), {"correlation-id": "p"}, path, value)

    read = await store.apply(policy_cmd("retrieve"))
    assert read.status == 200 and read.value["policyId"] == TID
    label = await store.apply(policy_cmd("retrieve", "/entries/DEFAULT/resources/thing:/"))
    assert label.value == {"grant": ["READ", "WRITE"], "revoke": []}
    conflict = await store.apply(policy_cmd("create", "/", {"entries": {}}))
    assert conflict.status == 409
    modified = await store.apply(policy_cmd("modify", "/entries/OPS", {"subjects": {}, "resources": {}}))
    assert modified.status == 201
    bad = await store.apply(policy_cmd("modify", "/entries", {"X": 1}))
    assert bad.status == 400
    assert (await store.apply(policy_cmd("delete", "/entries/OPS"))).status == 204
    assert (await store.apply(policy_cmd("delete"))).status == 204
    missing = await store.apply(policy_cmd("retrieve"))
    assert (missing.status, missing.value["error"]) == (404, "policies:policy.notfound")
    assert str(missing.topic) == "org.acme/pump-1/policies/errors"
    assert await store.retrieve(TID, "/policyId") == TID  # the thing keeps its policyId


async def test_merge_at_root_of_a_missing_thing_answers_as_a_create(store: EmbeddedTwinStore) -> None:
    response = await store.apply(cmd("merge", "/", {"attributes": {"a": 1}}))
    assert (response.status, str(response.topic)) == (201, "org.acme/pump-1/things/twin/commands/create")
    assert response.value == {"thingId": TID, "policyId": TID, "attributes": {"a": 1}}
    again = await store.apply(cmd("merge", "/", {"attributes": {"a": 2}}))
    assert (again.status, str(again.topic)) == (204, "org.acme/pump-1/things/twin/commands/merge")


async def test_fields_of_a_sub_resource_may_name_the_resource(store: EmbeddedTwinStore) -> None:
    await store.put(
        TID, "/", {"attributes": {"a": 1, "b": 2}, "features": {"f": {"properties": {"x": 1, "y": 2}}}}
    )

    async def read(path: str, fields: str) -> Any:
        command = command_envelope(TID, "retrieve", path, headers={"correlation-id": "c"}, fields=fields)
        return (await store.apply(command)).value

    assert await read("/attributes", "attributes") == {"a": 1, "b": 2}
    assert await read("/attributes", "a") == {"a": 1}
    assert await read("/features/f/properties", "properties/y") == {"y": 2}
    assert await read("/features/f/properties", "x,y") == {"x": 1, "y": 2}


async def test_an_unanswered_command_changes_the_twin_alike_and_carries_its_status_only(
    store: EmbeddedTwinStore,
) -> None:
    from centinela.twin.dispatch import apply_command

    await store.apply(cmd("create", "/", {"attributes": {"a": 1}}))
    created = await apply_command(store, cmd("modify", "/attributes/b", 2), answer=False)
    replaced = await apply_command(store, cmd("modify", "/attributes/b", 3), answer=False)
    merged = await apply_command(store, cmd("merge", "/attributes", {"a": None}), answer=False)
    assert [(r.kind, r.status, r.value, dict(r.headers)) for r in (created, replaced, merged)] == [
        (Kind.RESPONSE, 201, ABSENT, {}),
        (Kind.RESPONSE, 204, ABSENT, {}),
        (Kind.RESPONSE, 204, ABSENT, {}),
    ]
    assert (await store.apply(cmd("retrieve", "/attributes"))).value == {"b": 3}
    refused = await apply_command(store, cmd("modify", "/attributes/b", 4, if_match='"rev:1"'), answer=False)
    assert (refused.kind, refused.status) == (Kind.ERROR, 412)
