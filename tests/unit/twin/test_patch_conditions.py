"""Ditto's `merge-thing-patch-conditions`, checked with the examples of Ditto's documentation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from centinela.errors import TwinError
from centinela.twin.protocol import Envelope
from centinela.twin.store import EmbeddedTwinStore


def _snippet(shared_ditto: Path, name: str) -> Any:
    return json.loads((shared_ditto / "docs-snippets" / "basic-conditional-requests" / name).read_text())


async def test_parts_whose_condition_fails_are_dropped(shared_ditto: Path) -> None:
    thing = _snippet(shared_ditto, "03-examples.json")
    command = Envelope.from_json(_snippet(shared_ditto, "04-ditto-protocol.json"))
    async with EmbeddedTwinStore() as store:
        await store.put(thing["thingId"], "/", thing)
        response = await store.apply(command)
        assert response.status == 204
        after = await store.retrieve(thing["thingId"])
    # Both conditions are false on the stored state (15 > 20, 90 < 80): their parts are dropped,
    # the parts without a condition are merged.
    assert after["attributes"]["lastMaintenance"] == command.value["attributes"]["lastMaintenance"]
    assert after["features"]["temperature"] == thing["features"]["temperature"]
    assert after["features"]["humidity"] == thing["features"]["humidity"]
    assert after["features"]["status"]["properties"] == {
        **thing["features"]["status"]["properties"],
        **command.value["features"]["status"]["properties"],
    }
    assert command.value["features"]["temperature"]["properties"]["value"] != 15


async def test_a_patch_left_empty_is_not_applied(shared_ditto: Path) -> None:
    state = _snippet(shared_ditto, "05-empty-object-removal-configuration.json")
    patch = _snippet(shared_ditto, "06-empty-object-removal-configuration.json")
    conditions = _snippet(shared_ditto, "07-empty-object-removal-configuration.json")
    async with EmbeddedTwinStore() as store:
        await store.put("acme:t", "/", state)
        sub = store.subscribe()
        result = await store.patch(
            "acme:t", "/", patch, headers={"merge-thing-patch-conditions": json.dumps(conditions)}
        )
        assert (result.revision, result.event, sub.get_nowait()) == (1, None, None)
        assert await store.retrieve("acme:t", "/features") == state["features"]
        # With a condition that holds, that part is applied.
        conditions["features/temp/properties/value"] = "lt(features/temp/properties/value,30)"
        result = await store.patch(
            "acme:t", "/", patch, headers={"merge-thing-patch-conditions": json.dumps(conditions)}
        )
        assert result.revision == 2
        assert await store.retrieve("acme:t", "/features") == {
            "temp": {"properties": {"value": 25}},
            "hum": {"properties": {"value": 70}},
        }


async def test_bad_patch_conditions_are_400() -> None:
    async with EmbeddedTwinStore() as store:
        await store.put("acme:t", "/", {})
        for header in ["not json", '["gt(a,1)"]', '{"a": 1}', '{"attributes/a": "gt(a"}']:
            with pytest.raises(TwinError) as info:
                await store.patch(
                    "acme:t", "/", {"attributes": {"a": 1}}, headers={"merge-thing-patch-conditions": header}
                )
            assert info.value.status == 400, header
        assert store.revision("acme:t") == 1
