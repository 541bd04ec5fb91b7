"""`_metadata`: set with `put-metadata`, removed with its values or `delete-metadata`, read with fields."""

from __future__ import annotations

import json

import pytest

from centinela.errors import TwinError
from centinela.twin.metadata import leaves
from centinela.twin.store import EmbeddedTwinStore

TID = "org.eclipse.ditto:my-lamp-1"
LAMP = {
    "features": {"lamp": {"properties": {"color": {"r": 100, "g": 0, "b": 255}, "status": {"on": "true"}}}}
}
CHANGE_LOG = {"changedAt": "2022-08-02T04:30:07", "changedBy": {"name": "ditto", "mail": "ditto@mail.com"}}


def put_metadata(*entries: tuple[str, object]) -> dict[str, str]:
    return {"put-metadata": json.dumps([{"key": k, "value": v} for k, v in entries])}


async def test_absolute_keys_as_in_dittos_documentation() -> None:
    async with EmbeddedTwinStore() as store:
        await store.put(
            TID,
            "/",
            LAMP,
            headers=put_metadata(
                ("features/lamp/properties/color/description", "Color represented with RGB values"),
                ("/features/lamp/properties/status/description", "Status of the lamp"),
            ),
        )
        assert await store.retrieve(TID, fields="_metadata") == {
            "_metadata": {
                "features": {
                    "lamp": {
                        "properties": {
                            "color": {"description": "Color represented with RGB values"},
                            "status": {"description": "Status of the lamp"},
                        }
                    }
                }
            }
        }


async def test_wildcard_keys_mark_every_written_leaf_relative_to_the_path() -> None:
    async with EmbeddedTwinStore() as store:
        await store.put(TID, "/", LAMP)
        await store.put(
            TID,
            "/features/lamp/properties/color",
            {"r": 0, "g": 255, "b": 255},
            headers=put_metadata(("*/changeLog", CHANGE_LOG), ("description", "RGB")),
        )
        color = await store.retrieve(TID, fields="_metadata/features/lamp/properties/color")
        assert color["_metadata"]["features"]["lamp"]["properties"]["color"] == {
            "r": {"changeLog": CHANGE_LOG},
            "g": {"changeLog": CHANGE_LOG},
            "b": {"changeLog": CHANGE_LOG},
            "description": "RGB",
        }
        # Values that go take their metadata with them.
        await store.merge(TID, "/features/lamp/properties/color", {"g": None})
        await store.delete(TID, "/features/lamp/properties/color/b")
        meta = (await store.retrieve(TID, fields="_metadata"))["_metadata"]
        assert sorted(meta["features"]["lamp"]["properties"]["color"]) == ["description", "r"]
        await store.merge(
            TID, "/features/lamp/properties/color", {"r": 1}, headers={"delete-metadata": "r/changeLog"}
        )
        meta = (await store.retrieve(TID, fields="_metadata"))["_metadata"]
        assert meta["features"]["lamp"]["properties"]["color"] == {"r": {}, "description": "RGB"}
        assert store.revision(TID) == 5


async def test_bad_metadata_headers_change_nothing() -> None:
    async with EmbeddedTwinStore() as store:
        await store.put(TID, "/", LAMP)
        for headers in [
            {"put-metadata": "not json"},
            {"put-metadata": '{"key": "a", "value": 1}'},
            {"put-metadata": '[{"value": 1}]'},
            {"delete-metadata": "a,,b"},
        ]:
            with pytest.raises(TwinError) as info:
                await store.put(TID, "/attributes/x", 1, headers=headers)
            assert (info.value.status, info.value.error) == (400, "things:metadata.invalid"), headers
        with pytest.raises(TwinError):
            await store.put(TID, "/", LAMP, headers={"put-metadata": '[{"key": "/", "value": 1}]'})
        assert store.revision(TID) == 1


def test_leaves() -> None:
    assert sorted(leaves({"a": {"b": 1, "c": {}}, "d": [1], "e": None})) == [("a", "b"), ("a", "c"), ("d",)]
    assert list(leaves(5)) == [()]
