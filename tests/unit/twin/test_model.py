from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from centinela.errors import TwinError
from centinela.twin.model import (
    Resource,
    classify,
    compile_fields,
    from_iso,
    parse_fields,
    select_fields,
    to_iso,
    validate_value,
)
from centinela.twin.pointer import parse_pointer

DOC: dict[str, Any] = {
    "thingId": "a:b",
    "attributes": {"manufacturer": "ACME corp", "complex": {"some": False, "serialNo": 4711, "misc": "foo"}},
    "features": {
        "lamp": {"properties": {"on": True, "color": "blue"}},
        "infrared-lamp": {"properties": {"on": False, "color": "red"}},
    },
}


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/", Resource.THING),
        ("/policyId", Resource.POLICY_ID),
        ("/definition", Resource.DEFINITION),
        ("/attributes", Resource.ATTRIBUTES),
        ("/attributes/a/b", Resource.ATTRIBUTE),
        ("/features", Resource.FEATURES),
        ("/features/f", Resource.FEATURE),
        ("/features/f/definition", Resource.FEATURE_DEFINITION),
        ("/features/f/properties", Resource.PROPERTIES),
        ("/features/f/properties/a/b", Resource.PROPERTY),
        ("/features/f/desiredProperties", Resource.DESIRED_PROPERTIES),
        ("/features/f/desiredProperties/x", Resource.DESIRED_PROPERTY),
    ],
)
def test_classify(path: str, kind: Resource) -> None:
    assert classify(parse_pointer(path)) is kind


@pytest.mark.parametrize(
    "path", ["/thingId", "/foo", "/policyId/x", "/features/f/colour", "/features/f/definition/0"]
)
def test_unknown_paths_are_404(path: str) -> None:
    with pytest.raises(TwinError) as info:
        classify(parse_pointer(path))
    assert (info.value.status, info.value.error) == (404, "things:path.unknown")


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ("attributes", {"attributes": DOC["attributes"]}),
        ("attributes/manufacturer", {"attributes": {"manufacturer": "ACME corp"}}),
        ("attributes/complex/serialNo", {"attributes": {"complex": {"serialNo": 4711}}}),
        ("attributes/complex(some,serialNo)", {"attributes": {"complex": {"some": False, "serialNo": 4711}}}),
        (
            "attributes/complex/misc,features/lamp/properties/on",
            {"attributes": {"complex": {"misc": "foo"}}, "features": {"lamp": {"properties": {"on": True}}}},
        ),
        (
            "features/*/properties/on",
            {
                "features": {
                    "lamp": {"properties": {"on": True}},
                    "infrared-lamp": {"properties": {"on": False}},
                }
            },
        ),
        ("thingId,nothing/here", {"thingId": "a:b"}),
    ],
)
def test_field_selectors_match_dittos_documentation(fields: str, expected: Any) -> None:
    assert select_fields(DOC, parse_fields(fields)) == expected


def test_validate_normalises_a_thing() -> None:
    thing = validate_value(
        Resource.THING,
        {"_revision": 3, "attributes": {}, "definition": "a:b:1"},
        thing_id="n:x",
        feature_id="",
    )
    assert thing == {"thingId": "n:x", "definition": "a:b:1", "attributes": {}}
    assert validate_value(Resource.FEATURE, None, thing_id="n:x", feature_id="f") == {}
    assert validate_value(
        Resource.DEFINITION, "https://example.com/td.json", thing_id="n:x", feature_id=""
    ) == ("https://example.com/td.json")


@pytest.mark.parametrize(
    ("kind", "value", "code"),
    [
        (Resource.THING, [], "json.invalid"),
        (Resource.THING, {"features": {"f": {"properties": 1}}}, "json.invalid"),
        (Resource.THING, {"features": {"": {}}}, "json.invalid"),
        (Resource.POLICY_ID, "no colon", "json.invalid"),
        (Resource.DEFINITION, "not a definition", "json.invalid"),
        (Resource.FEATURE_DEFINITION, "a:b:1", "things:feature.definition.identifier.invalid"),
        (Resource.FEATURE_DEFINITION, [], "things:feature.definition.empty"),
        (Resource.ATTRIBUTES, {"a": {"b/c": 1}}, "json.invalid"),
        (Resource.ATTRIBUTE, {"x\u0001": 1}, "json.invalid"),
        (Resource.FEATURE, {"propertiez": {}}, "json.invalid"),
    ],
)
def test_invalid_values(kind: Resource, value: Any, code: str) -> None:
    with pytest.raises(TwinError) as info:
        validate_value(kind, value, thing_id="n:x", feature_id="f")
    assert (info.value.status, info.value.error) == (400, code)


def test_iso_timestamps() -> None:
    assert to_iso(0.5) == "1970-01-01T00:00:00.500000Z"
    assert from_iso("2021-01-18T09:42:12Z") == 1610962932.0
    assert from_iso(to_iso(1_700_000_123.456789)) == pytest.approx(1_700_000_123.456789)


@pytest.mark.parametrize(
    "fields",
    [
        "thingId,definition,attributes/active,features/p/properties/x",
        "attributes/site,attributes",
        "attributes,attributes/site",
        "features(pressure/properties/tubing,flow),attributes/missing",
        "features/*/properties/tubing,thingId",
        "attributes/site/below-a-string",
    ],
)
def test_compiled_fields_select_what_select_fields_does_as_a_copy(fields: str) -> None:
    thing = {
        "thingId": "a:b",
        "attributes": {"site": "north", "active": True},
        "features": {
            "pressure": {"properties": {"tubing": 101.5, "casing": [1, 2]}},
            "flow": {"properties": {"oil": {"rate": 3}}},
        },
    }
    selectors = parse_fields(fields)
    picked = compile_fields(selectors)(thing)
    assert picked == select_fields(thing, selectors)
    picked.get("attributes", {})["site"] = "changed"
    for feature in picked.get("features", {}).values():
        feature.get("properties", {}).clear()
    assert thing["attributes"]["site"] == "north"
    assert thing["features"]["pressure"]["properties"]["tubing"] == 101.5


@given(st.one_of(st.floats(min_value=-1e10, max_value=253_402_300_799.0, allow_nan=False),
                 st.integers(0, 4_000_000_000).map(lambda s: s + 0.0000005),
                 st.integers(0, 4_000_000_000).map(lambda s: s + 0.9999995)))
def test_to_iso_writes_what_datetime_writes(when: float) -> None:
    from datetime import UTC, datetime

    expected = datetime.fromtimestamp(when, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    assert to_iso(when) == expected
