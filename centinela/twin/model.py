"""Thing structure: resource kinds by path, value validation, field selectors, `_revision`/`_created`/...."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from centinela.twin.errors import (
    feature_definition_empty,
    feature_definition_invalid,
    invalid_field_selector,
    invalid_json,
    path_unknown,
    thing_id_not_settable,
)
from centinela.twin.ids import THING_ID_PATTERN
from centinela.twin.pointer import MISSING, Pointer, copy_json, find_all, format_pointer, parse_pointer

__all__ = [
    "THING_FIELDS",
    "Resource",
    "check_keys",
    "check_merged",
    "classify",
    "compile_fields",
    "from_iso",
    "parse_fields",
    "select_fields",
    "to_iso",
    "validate_value",
]

JSON = Any

THING_FIELDS = ("thingId", "policyId", "definition", "attributes", "features")
"""A thing's own members, in the order Ditto writes them."""
_FEATURE_FIELDS = ("definition", "properties", "desiredProperties")
_DEFINITION_ID = re.compile(r"[_a-zA-Z0-9\-.]+:[_a-zA-Z0-9\-.]+:[_a-zA-Z0-9\-.]+")
_URL = re.compile(r"https?://\S+")
_BAD_KEY = re.compile(r"[\x00-\x1F\x7F/]")


class Resource(Enum):
    """What a pointer relative to a thing addresses (Ditto's command granularity)."""

    THING = "thing"
    POLICY_ID = "policyId"
    DEFINITION = "definition"
    ATTRIBUTES = "attributes"
    ATTRIBUTE = "attribute"
    FEATURES = "features"
    FEATURE = "feature"
    FEATURE_DEFINITION = "featureDefinition"
    PROPERTIES = "properties"
    PROPERTY = "property"
    DESIRED_PROPERTIES = "desiredProperties"
    DESIRED_PROPERTY = "desiredProperty"


def classify(parts: Pointer) -> Resource:
    """The resource at `parts`; raise `TwinError` 404 `things:path.unknown` for anything else."""
    n = len(parts)
    if n == 0:
        return Resource.THING
    head = parts[0]
    if head == "attributes":
        return Resource.ATTRIBUTES if n == 1 else Resource.ATTRIBUTE
    if n == 1 and head == "policyId":
        return Resource.POLICY_ID
    if n == 1 and head == "definition":
        return Resource.DEFINITION
    if head == "features":
        if n <= 2:
            return Resource.FEATURES if n == 1 else Resource.FEATURE
        kind = parts[2]
        if kind == "definition" and n == 3:
            return Resource.FEATURE_DEFINITION
        if kind == "properties":
            return Resource.PROPERTIES if n == 3 else Resource.PROPERTY
        if kind == "desiredProperties":
            return Resource.DESIRED_PROPERTIES if n == 3 else Resource.DESIRED_PROPERTY
    raise path_unknown(format_pointer(parts))


# --------------------------------------------------------------------------- validation


def _check_keys(value: JSON, where: str) -> None:
    if isinstance(value, dict):
        for key, child in value.items():
            if key.isprintable() and key and "/" not in key:
                pass  # the common case, without a regular expression
            elif child is None and key.startswith("{{"):
                pass  # a merge patch's `{{ ~regex~ }}: null` deletion
            elif not key or _BAD_KEY.search(key):
                msg = (
                    f"The key '{key}' in {where} is not valid: keys must be non-empty without '/' "
                    "or control characters."
                )
                raise invalid_json(msg)
            _check_keys(child, where)
    elif isinstance(value, list):
        for child in value:
            _check_keys(child, where)


def check_keys(value: JSON, where: str) -> None:
    """Raise `TwinError` 400 when an object key anywhere in `value` is empty or holds '/' or a control."""
    _check_keys(value, where)


def _object(value: JSON, what: str) -> dict[str, JSON]:
    if not isinstance(value, dict):
        msg = f"The {what} must be a JSON object, not {type(value).__name__} {value!r:.80}."
        raise invalid_json(msg)
    return value


def _feature_definition(value: JSON) -> list[str]:
    if not isinstance(value, list):
        raise feature_definition_invalid(value)
    if not value:
        raise feature_definition_empty()
    for ident in value:
        if not isinstance(ident, str) or not (_DEFINITION_ID.fullmatch(ident) or _URL.fullmatch(ident)):
            raise feature_definition_invalid(ident)
    return value


def _feature(value: JSON, feature_id: str, *, deep: bool = True) -> dict[str, JSON]:
    if value is None:
        return {}
    feature = _object(value, f"Feature '{feature_id}'")
    out: dict[str, JSON] = {}
    for key, member in feature.items():
        if key == "definition":
            out[key] = _feature_definition(member)
        elif key in ("properties", "desiredProperties"):
            _object(member, f"{key} of Feature '{feature_id}'")
            if deep:
                _check_keys(member, f"Feature '{feature_id}'")
            out[key] = member
        else:
            msg = (
                f"The Feature '{feature_id}' has the unknown member '{key}'; "
                f"allowed are {', '.join(_FEATURE_FIELDS)}."
            )
            raise invalid_json(msg)
    return out


def _features(value: JSON) -> dict[str, JSON]:
    features = _object(value, "Features")
    out: dict[str, JSON] = {}
    for fid, feature in features.items():
        if not fid or _BAD_KEY.search(fid):
            msg = (
                f"The Feature ID '{fid}' is not valid: it must be non-empty without '/' "
                "or control characters."
            )
            raise invalid_json(msg)
        out[fid] = _feature(feature, fid)
    return out


def _policy_id(value: JSON) -> str:
    if not isinstance(value, str) or THING_ID_PATTERN.fullmatch(value) is None:
        msg = f"The Policy ID {value!r:.80} is not a valid namespaced id."
        raise invalid_json(msg)
    return value


def _thing_definition(value: JSON) -> JSON:
    if value is None:
        return None
    if not isinstance(value, str) or not (_DEFINITION_ID.fullmatch(value) or _URL.fullmatch(value)):
        msg = f"The Thing Definition {value!r:.80} is not 'namespace:name:version' or a URL."
        raise invalid_json(msg)
    return value


def _thing(value: JSON, thing_id: str) -> dict[str, JSON]:
    thing = _object(value, f"Thing '{thing_id}'")
    out: dict[str, JSON] = {"thingId": thing_id}
    body_id = thing.get("thingId", thing_id)
    if body_id != thing_id:
        raise thing_id_not_settable(body_id, thing_id)
    for key in THING_FIELDS[1:]:
        if key in thing:
            out[key] = validate_value(Resource(key), thing[key], thing_id=thing_id, feature_id="")
    for key in thing:
        if key not in THING_FIELDS and not key.startswith("_"):
            msg = (
                f"The Thing '{thing_id}' has the unknown member '{key}'; "
                f"allowed are {', '.join(THING_FIELDS)}."
            )
            raise invalid_json(msg)
    return out


def check_merged(
    thing_id: str, merged: dict[str, JSON], root_patch: JSON, *, keys_checked: bool = False
) -> dict[str, JSON]:
    """A thing after a merge patch, checked where the patch touched it (the rest was valid before).

    `root_patch` is the patch as seen from the thing's root; `keys_checked` says its keys are
    known to be plain already. Members starting with `_` are dropped, as `validate_value` does
    for a whole thing.
    """
    patch = root_patch if isinstance(root_patch, dict) else {}
    if not keys_checked:
        _check_keys(patch, f"the merge patch for Thing '{thing_id}'")
    out: dict[str, JSON] = {"thingId": thing_id}
    for key, member in merged.items():
        if key == "thingId" or key.startswith("_"):
            continue
        if key not in THING_FIELDS:
            msg = (
                f"The Thing '{thing_id}' has the unknown member '{key}'; "
                f"allowed are {', '.join(THING_FIELDS)}."
            )
            raise invalid_json(msg)
        if key not in patch:
            out[key] = member
        elif key == "features":
            touched = patch["features"]
            # Never change a stored dict in place: an object patch made `member` afresh.
            features = member if type(touched) is dict else dict(_object(member, "Features"))
            _object(features, "Features")
            for fid in touched if isinstance(touched, dict) else features:
                if fid in features:
                    features[fid] = _feature(features[fid], fid, deep=not isinstance(touched, dict))
            out[key] = features
        elif key == "attributes":
            out[key] = _object(member, "attributes")
        else:
            out[key] = validate_value(Resource(key), member, thing_id=thing_id, feature_id="")
    return out


def validate_value(kind: Resource, value: JSON, *, thing_id: str, feature_id: str) -> JSON:
    """Check `value` for the resource `kind` and return it normalised (a thing gets its `thingId`).

    Raise `TwinError` 400 with Ditto's code when it does not fit. Members starting with `_`
    (`_revision`, `_policy`, ...) of a thing are dropped; the store reads `_policy` itself.
    """
    if kind is Resource.THING:
        return _thing(value, thing_id)
    if kind is Resource.POLICY_ID:
        return _policy_id(value)
    if kind is Resource.DEFINITION:
        return _thing_definition(value)
    if kind is Resource.FEATURES:
        return _features(value)
    if kind is Resource.FEATURE:
        return _feature(value, feature_id)
    if kind is Resource.FEATURE_DEFINITION:
        return _feature_definition(value)
    if kind in (Resource.ATTRIBUTES, Resource.PROPERTIES, Resource.DESIRED_PROPERTIES):
        _check_keys(_object(value, kind.value), kind.value)
        return value
    _check_keys(value, kind.value)
    return value


# --------------------------------------------------------------------------- field selectors


def parse_fields(text: str) -> tuple[Pointer, ...]:
    """Parse a Ditto field selector (`attributes/model,features(pressure/properties,flow)`)."""
    pos = 0

    def group(prefix: str, depth: int) -> list[str]:
        nonlocal pos
        out: list[str] = []
        start = pos
        while True:
            if pos >= len(text) or text[pos] in ",)":
                token = text[start:pos].strip()
                if not token:
                    raise invalid_field_selector(text, f"an empty field at position {pos}")
                out.append(prefix + token)
                if pos >= len(text):
                    if depth:
                        raise invalid_field_selector(text, "a '(' is not closed")
                    return out
                if text[pos] == ")":
                    if not depth:
                        raise invalid_field_selector(text, f"an unmatched ')' at position {pos}")
                    return out
                pos += 1
                start = pos
            elif text[pos] == "(":
                token = text[start:pos].strip()
                if not token:
                    raise invalid_field_selector(text, f"a '(' without a field before it at position {pos}")
                pos += 1
                out.extend(group(prefix + token + "/", depth + 1))
                pos += 1  # the ')'
                if pos < len(text) and text[pos] not in ",)":
                    raise invalid_field_selector(text, f"a ',' or ')' is expected at position {pos}")
                if pos >= len(text) or text[pos] == ")":
                    return out
                pos += 1
                start = pos
            else:
                pos += 1

    if not text or not text.strip():
        raise invalid_field_selector(text, "it is empty")
    paths = group("", 0)
    if pos < len(text):
        raise invalid_field_selector(text, f"an unmatched ')' at position {pos}")
    return tuple(parse_pointer(p) for p in paths)


def select_fields(value: JSON, selectors: tuple[Pointer, ...]) -> JSON:
    """The part of `value` named by `selectors` (what a `fields` parameter returns); `*` matches any key."""
    if not isinstance(value, dict):
        return value
    out: dict[str, JSON] = {}
    mine = {id(out)}  # objects built here, filled in place; the others are `value`'s own: copied first
    for selector in selectors:
        for parts, found in find_all(value, selector):
            if parts:
                node = out
                for key in parts[:-1]:
                    child = node.get(key)
                    if not isinstance(child, dict) or id(child) not in mine:
                        child = node[key] = dict(child) if isinstance(child, dict) else {}
                        mine.add(id(child))
                    node = child
                node[parts[-1]] = found
    return out


def compile_fields(selectors: tuple[Pointer, ...]) -> Callable[[JSON], JSON]:
    """`select_fields` for fixed `selectors` as one function, whose result is a copy.

    Without a `*` the selectors become a tree walked once per call (what event subscriptions
    with `extraFields` do for every event); with one, `select_fields` does the work.
    """
    if any("*" in selector for selector in selectors):
        return lambda value: copy_json(select_fields(value, selectors))
    tree: dict[str, Any] = {}
    for parts in selectors:
        if not parts:
            continue
        node = tree
        for key in parts[:-1]:
            child = node.get(key, MISSING)
            if child is None:
                break  # an enclosing selector takes the whole of it already
            if child is MISSING:
                child = node[key] = {}
            node = child
        else:
            node[parts[-1]] = None  # the whole value, whatever was asked below it

    def pick(value: dict[str, JSON], branch: dict[str, Any]) -> dict[str, JSON]:
        out: dict[str, JSON] = {}
        for key, sub in branch.items():
            found = value.get(key, MISSING)
            if found is MISSING:
                continue
            if sub is None:
                out[key] = copy_json(found)
            elif isinstance(found, dict):
                inner = pick(found, sub)
                if inner:
                    out[key] = inner
        return out

    def select(value: JSON) -> JSON:
        return pick(value, tree) if isinstance(value, dict) else value

    return select


# --------------------------------------------------------------------------- time


def to_iso(when: float) -> str:
    """Ditto's timestamp text for epoch seconds: ISO 8601 UTC with a `Z`, to the microsecond.

    The text of the whole second is kept from the last call (timestamps come in time order); the
    microseconds are rounded half to even, as `datetime.fromtimestamp` does.
    """
    if when < 0 or when != when or when > _ISO_MAX:
        return datetime.fromtimestamp(when, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    whole = int(when)
    micro = round((when - whole) * 1_000_000)
    if micro >= 1_000_000:
        whole += 1
        micro -= 1_000_000
    if whole != _iso_second[0]:
        _iso_second[0] = whole
        _iso_second[1] = datetime.fromtimestamp(whole, UTC).isoformat(timespec="seconds")[:-6]
    return f"{_iso_second[1]}.{micro:06d}Z"


_ISO_MAX = 253402300799.0  # 9999-12-31T23:59:59Z
_iso_second: list[Any] = [-1, ""]  # the last whole second and its text


def from_iso(text: str) -> float:
    """Epoch seconds for an ISO 8601 timestamp (a missing zone means UTC)."""
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()
