from __future__ import annotations

import pytest

from centinela.errors import TwinError
from centinela.twin.pointer import (
    MISSING,
    copy_json,
    delete_at,
    format_pointer,
    get_at,
    nest,
    parse_pointer,
    set_at,
)


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("/", ()),
        ("", ()),
        ("/attributes", ("attributes",)),
        ("attributes/location", ("attributes", "location")),
        ("/features/p/properties/", ("features", "p", "properties")),
        ("/a~1b/c~0d", ("a/b", "c~d")),
        ("/~01", ("~1",)),
    ],
)
def test_parse_and_format_round_trip(text: str, parts: tuple[str, ...]) -> None:
    assert parse_pointer(text) == parts
    assert parse_pointer(format_pointer(parts)) == parts


@pytest.mark.parametrize("text", ["/a//b", "//", "/a~2", "/a~", "/a\x00b"])
def test_invalid_pointers(text: str) -> None:
    with pytest.raises(TwinError) as info:
        parse_pointer(text)
    assert info.value.status == 400
    assert info.value.error == "json.pointer.invalid"


def test_get_set_delete_are_copy_on_write() -> None:
    doc = {"a": {"b": 1, "c": [1, 2]}, "x": 0}
    original = copy_json(doc)
    changed = set_at(doc, ("a", "d", "e"), 5)
    assert changed == {"a": {"b": 1, "c": [1, 2], "d": {"e": 5}}, "x": 0}
    assert doc == original
    removed = delete_at(changed, ("a", "b"))
    assert removed == {"a": {"c": [1, 2], "d": {"e": 5}}, "x": 0}
    assert changed["a"]["b"] == 1
    assert get_at(doc, ("a", "b")) == 1
    assert get_at(doc, ("a", "c", "0")) is MISSING  # arrays are not traversed, as in Ditto
    assert get_at(doc, ("nope",)) is MISSING
    assert set_at({"a": 3}, ("a", "b"), 1) == {"a": {"b": 1}}


def test_nest_and_copy() -> None:
    assert nest(("a", "b"), None) == {"a": {"b": None}}
    assert nest((), 4) == 4
    value = {"k": [{"z": 1}]}
    copied = copy_json(value)
    copied["k"][0]["z"] = 2
    assert value["k"][0]["z"] == 1
