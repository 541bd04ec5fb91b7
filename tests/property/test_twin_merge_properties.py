"""Properties of JSON pointers and merge patches, checked over generated JSON."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from centinela.twin.merge import merge_patch, strip_nulls
from centinela.twin.pointer import format_pointer, get_at, nest, parse_pointer, set_at

keys = st.text(st.characters(blacklist_categories=["Cc", "Cs"]), min_size=1, max_size=8).filter(
    lambda k: not k.startswith("{{")
)
scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=12,
)
objects = st.dictionaries(keys, json_values, max_size=5)


def reference_merge(target: Any, patch: Any) -> Any:
    """RFC 7396 section 2, written as the RFC's pseudo code reads."""
    if isinstance(patch, dict):
        result = dict(target) if isinstance(target, dict) else {}
        for name, value in patch.items():
            if value is None:
                result.pop(name, None)
            else:
                result[name] = reference_merge(result.get(name), value)
        return result
    return patch


@settings(max_examples=60, deadline=None)
@given(st.lists(keys, max_size=5))
def test_pointers_round_trip(parts: list[str]) -> None:
    assert parse_pointer(format_pointer(tuple(parts))) == tuple(parts)


@settings(max_examples=60, deadline=None)
@given(objects, json_values)
def test_merge_matches_the_rfc_algorithm(target: dict[str, Any], patch: Any) -> None:
    assert merge_patch(target, patch) == reference_merge(target, patch)


@settings(max_examples=60, deadline=None)
@given(objects, objects)
def test_merge_is_idempotent_and_leaves_its_inputs(target: dict[str, Any], patch: dict[str, Any]) -> None:
    before = (repr(target), repr(patch))
    once = merge_patch(target, patch)
    assert merge_patch(once, patch) == once
    assert (repr(target), repr(patch)) == before


@settings(max_examples=60, deadline=None)
@given(objects, st.lists(keys, min_size=1, max_size=4), json_values)
def test_a_patch_at_a_path_lands_at_that_path(target: dict[str, Any], parts: list[str], value: Any) -> None:
    merged = merge_patch(target, nest(tuple(parts), value))
    if value is not None:
        assert get_at(merged, tuple(parts)) == (strip_nulls(value) if isinstance(value, dict) else value)
    assert set_at(target, tuple(parts), 1) is not target
