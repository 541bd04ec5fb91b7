from __future__ import annotations

from typing import Any

import pytest

from centinela.errors import TwinError
from centinela.twin.merge import merge_at, merge_patch, strip_nulls
from centinela.twin.pointer import checked_patch

# The RFC 7396 appendix A examples.
RFC_CASES: list[tuple[Any, Any, Any]] = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]


@pytest.mark.parametrize(("target", "patch", "result"), RFC_CASES)
def test_rfc7396_examples(target: Any, patch: Any, result: Any) -> None:
    before = repr(target)
    assert merge_patch(target, patch) == result
    assert repr(target) == before  # the target is never changed in place


def test_strip_nulls_keeps_array_items() -> None:
    assert strip_nulls({"a": None, "b": {"c": None, "d": [None]}}) == {"b": {"d": [None]}}


MERGE_AT_CASES: list[tuple[Any, tuple[str, ...], Any]] = [
    ({"a": {"b": 1, "c": 2}}, ("a", "b"), 5),
    ({"a": {"b": 1, "c": 2}}, ("a", "b"), None),
    ({"a": {"b": 1}}, ("a", "x", "y"), {"z": 1, "n": None}),
    ({"a": 3}, ("a", "b"), [1, {"c": None}]),
    ({}, ("a", "b"), {"c": {"d": None}}),
    ({"a": {"t1": 1, "t2": 2, "u": 3}}, ("a", "{{ ~t.~ }}"), None),
]


@pytest.mark.parametrize(("target", "parts", "patch"), MERGE_AT_CASES)
def test_merge_at_is_a_nested_merge_patch_that_copies_only_the_path(
    target: Any, parts: tuple[str, ...], patch: Any
) -> None:
    nested: Any = patch
    for key in reversed(parts):
        nested = {key: nested}
    before = repr(target)
    merged = merge_at(target, parts, patch)
    assert merged == merge_patch(target, nested)
    assert repr(target) == before  # the target is not changed in place


def test_merged_objects_and_arrays_are_never_the_patchs_own() -> None:
    patch = {"a": {"list": [1, [2]], "obj": {"k": [3]}}}
    for merged in (merge_patch({}, patch), merge_at({}, ("x",), patch)):
        inner = merged["a"] if "a" in merged else merged["x"]["a"]
        inner["list"][1].append(9)
        inner["obj"]["k"].append(9)
    assert patch == {"a": {"list": [1, [2]], "obj": {"k": [3]}}}


@pytest.mark.parametrize(
    ("value", "plain"),
    [
        ({"a": {"b": [1, {"c": 2.5}]}, "d": None}, True),
        ({"a": {"{{ ~x.*~ }}": None}}, True),
        ({"a": {"{{ ~x/y~ }}": None}}, False),
        ({"a": [{"b/c": 1}]}, False),
        ({"": 1}, False),
        ([{"tab\there": 1}], False),
    ],
)
def test_checked_patch_copies_and_says_whether_every_key_is_plain(value: Any, plain: bool) -> None:
    copy, found = checked_patch(value)
    assert (copy, found) == (value, plain)
    assert copy is not value


def test_checked_patch_refuses_what_is_not_json() -> None:
    with pytest.raises(TwinError, match="key 1"):
        checked_patch({"a": {1: 2}})
    with pytest.raises(TwinError, match="inf"):
        checked_patch({"a": [float("inf")]})


THING_PATCHES: list[Any] = [
    {"features": {"out": {"properties": {"a": 1.5, "b": {"c": [1]}}}}},
    {"features": {"p": {"properties": {"x": None, "y": 2}, "desiredProperties": {"x": 3}}}},
    {"attributes": {"site": "south", "tags": ["a"]}, "features": {"new": {"properties": {}}}},
    {"attributes": {"depth": None}},
    {"features": {"p": {"definition": ["org.acme:pump:1.0.0"]}}},  # not values only: general path
    {"features": {"p": None}},
    {"definition": "org.acme:well:2.0.0"},
    {"policyId": "org.acme:other"},
]


@pytest.mark.parametrize("patch", THING_PATCHES)
def test_a_merge_at_the_root_gives_what_the_general_path_gives(patch: Any) -> None:
    from centinela.twin.commands import ThingRecord, apply_merge

    thing = {
        "thingId": "org.acme:w-1",
        "policyId": "org.acme:w-1",
        "definition": "org.acme:well:1.0.0",
        "attributes": {"site": "north", "depth": 5},
        "features": {"p": {"definition": ["org.acme:pump:1.0.0"], "properties": {"x": 1}}},
    }
    record = ThingRecord("org.acme:w-1", 3, thing, 1.0, 1.0)
    before = repr(thing)
    checked, plain = checked_patch(patch)
    assert plain
    fast = apply_merge(record, "org.acme:w-1", (), checked, 2.0, keys_checked=True)
    general = apply_merge(record, "org.acme:w-1", (), checked_patch(patch)[0], 2.0)
    assert fast.record.thing == general.record.thing
    assert list(fast.record.thing or {}) == list(general.record.thing or {})  # members in Ditto's order
    assert fast.record.revision == 4 and fast.action == "merged"
    assert repr(thing) == before
