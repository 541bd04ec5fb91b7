"""The pure core of the store: a thing record and a command in, the new record and its event out."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from typing import Any

from centinela.twin.errors import (
    feature_not_found,
    invalid_json,
    not_found_at,
    policy_id_not_deletable,
    thing_conflict,
    thing_id_not_deletable,
    thing_id_not_settable,
    thing_not_found,
)
from centinela.twin.merge import merge_at, merge_patch, strip_nulls
from centinela.twin.model import (
    THING_FIELDS,
    Resource,
    check_keys,
    check_merged,
    classify,
    to_iso,
    validate_value,
)
from centinela.twin.pointer import MISSING, Pointer, delete_at, get_at, nest, set_at

__all__ = [
    "Change",
    "ThingRecord",
    "apply_create",
    "apply_delete",
    "apply_merge",
    "apply_modify",
    "read",
    "thing_view",
]

JSON = Any


@dataclass(frozen=True, slots=True)
class ThingRecord:
    """A thing as stored: its JSON (`None` once deleted, keeping the revision) and bookkeeping.

    The `thing` dict is never changed in place: each change builds a new one (sharing what did
    not change), so a record handed out stays a consistent snapshot.
    """

    thing_id: str
    revision: int
    thing: dict[str, JSON] | None
    created: float
    modified: float
    metadata: dict[str, JSON] | None = None

    @property
    def exists(self) -> bool:
        return self.thing is not None


def thing_view(
    record: ThingRecord,
    thing: dict[str, JSON] | None = None,
    policy: dict[str, JSON] | None = None,
    *,
    only: Collection[str] | None = None,
) -> dict[str, JSON]:
    """`thing` (default: the record's) with the members only field selectors and RQL see.

    Those are `_namespace`, `_revision`, `_created`, `_modified`, `_metadata` and `_policy`;
    `only` limits which of them are added (formatting the timestamps is not free).
    """
    view = dict(thing if thing is not None else record.thing or {})

    def wanted(name: str) -> bool:
        return only is None or name in only

    if wanted("_namespace"):
        view["_namespace"] = record.thing_id.partition(":")[0]
    if wanted("_revision"):
        view["_revision"] = record.revision
    if wanted("_created"):
        view["_created"] = to_iso(record.created)
    if wanted("_modified"):
        view["_modified"] = to_iso(record.modified)
    if record.metadata is not None and wanted("_metadata"):
        view["_metadata"] = record.metadata
    if policy is not None and wanted("_policy"):
        view["_policy"] = policy
    return view


@dataclass(frozen=True, slots=True)
class Change:
    """The result of one command: the record after it and what the event reports."""

    record: ThingRecord
    created: bool
    action: str
    path: Pointer
    value: JSON
    noop: bool = False
    """Nothing to apply (every part of a conditional merge was dropped): no revision, no event."""
    private: bool = False
    """`value` shares nothing mutable with the new record, so an event may carry it uncopied."""


_FREE_JSON = frozenset({Resource.ATTRIBUTE, Resource.PROPERTY, Resource.DESIRED_PROPERTY})
"""Resources whose value is any JSON (with valid keys): a merge there cannot break the thing."""


def _ordered(thing: dict[str, JSON]) -> dict[str, JSON]:
    return {k: thing[k] for k in THING_FIELDS if k in thing}


def _feature_id(parts: Pointer) -> str:
    return parts[1] if len(parts) > 1 and parts[0] == "features" else ""


def _require_feature(thing: dict[str, JSON], thing_id: str, parts: Pointer, kind: Resource) -> None:
    if (
        kind
        in (
            Resource.FEATURE_DEFINITION,
            Resource.PROPERTIES,
            Resource.PROPERTY,
            Resource.DESIRED_PROPERTIES,
            Resource.DESIRED_PROPERTY,
        )
        and get_at(thing, parts[:2]) is MISSING
    ):
        raise feature_not_found(thing_id, parts[1])


def _missing(thing: dict[str, JSON], thing_id: str, parts: Pointer) -> Exception:
    """The 404 for a missing resource, naming the first missing level below a feature."""
    if parts[0] == "features" and len(parts) > 2:
        for depth in (2, 3):
            if get_at(thing, parts[:depth]) is MISSING:
                return not_found_at(thing_id, parts[:depth])
    return not_found_at(thing_id, parts)


def _live(record: ThingRecord | None, thing_id: str) -> tuple[ThingRecord, dict[str, JSON]]:
    if record is None or record.thing is None:
        raise thing_not_found(thing_id)
    return record, record.thing


def read(record: ThingRecord | None, thing_id: str, parts: Pointer) -> JSON:
    """The value at `parts` of a thing; `TwinError` 404 at the level that is missing."""
    classify(parts)
    _, thing = _live(record, thing_id)
    found = get_at(thing, parts)
    if found is MISSING:
        raise _missing(thing, thing_id, parts)
    return found


def _new_record(record: ThingRecord | None, thing_id: str, thing: dict[str, JSON], now: float) -> ThingRecord:
    revision = record.revision + 1 if record is not None else 1
    return ThingRecord(thing_id, revision, _ordered(thing), now, now, None)


def apply_create(
    record: ThingRecord | None,
    thing_id: str,
    value: JSON,
    now: float,
    *,
    default_policy_id: str | None = None,
) -> Change:
    """Create a thing that must not exist yet (409 `things:thing.conflict` otherwise)."""
    if record is not None and record.thing is not None:
        raise thing_conflict(thing_id)
    thing = validate_value(Resource.THING, value, thing_id=thing_id, feature_id="")
    thing.setdefault("policyId", default_policy_id or thing_id)
    new = _new_record(record, thing_id, thing, now)
    return Change(new, True, "created", (), new.thing)


def apply_modify(
    record: ThingRecord | None, thing_id: str, parts: Pointer, value: JSON, now: float
) -> Change:
    """Create or replace the resource at `parts` (Ditto's `modify`): 201 when it did not exist."""
    kind = classify(parts)
    value = validate_value(kind, value, thing_id=thing_id, feature_id=_feature_id(parts))
    if kind is Resource.THING and (record is None or record.thing is None):
        return apply_create(record, thing_id, value, now)
    record, thing = _live(record, thing_id)
    if kind is Resource.THING:
        value.setdefault("policyId", thing.get("policyId", thing_id))
        new_thing = _ordered(value)
        created = False
    else:
        _require_feature(thing, thing_id, parts, kind)
        created = get_at(thing, parts) is MISSING
        new_thing = _ordered(set_at(thing, parts, value)) if len(parts) == 1 else set_at(thing, parts, value)
    new = ThingRecord(thing_id, record.revision + 1, new_thing, record.created, now, record.metadata)
    return Change(new, created, "created" if created else "modified", parts, value)


def apply_merge(
    record: ThingRecord | None,
    thing_id: str,
    parts: Pointer,
    patch: JSON,
    now: float,
    *,
    keys_checked: bool = False,
) -> Change:
    """Apply a merge patch at `parts` (RFC 7396; `null` deletes); missing objects are created.

    As Ditto does since 3.3, a merge at `/` creates a thing that does not exist (a `created`
    event and a 201); below `/` the thing must exist. `keys_checked` says every key of `patch`
    is known to be plain (see `centinela.twin.pointer.checked_patch`).
    """
    kind = classify(parts)
    if kind is Resource.THING and (record is None or record.thing is None) and isinstance(patch, dict):
        return apply_create(record, thing_id, strip_nulls(patch), now)
    record, thing = _live(record, thing_id)
    if kind in _FREE_JSON:
        # Below an attribute or a property anything that is JSON with valid keys may go: only the
        # patch needs checking, and only the objects on the way down are copied.
        if patch is None and get_at(thing, parts) is MISSING:
            merged = thing
        else:
            if not keys_checked:
                check_keys(patch, f"the merge patch for Thing '{thing_id}'")
            merged = merge_at(thing, parts, patch)
            if parts[0] not in thing:
                merged = _ordered(merged)
        new = ThingRecord(thing_id, record.revision + 1, merged, record.created, now, record.metadata)
        return Change(new, False, "merged", parts, patch, private=True)
    if kind is Resource.THING and keys_checked and type(patch) is dict:
        values = _merge_values_only(thing, patch)
        if values is not None:
            new = ThingRecord(thing_id, record.revision + 1, values, record.created, now, record.metadata)
            return Change(new, False, "merged", parts, patch, private=True)
    if kind is Resource.THING:
        if not isinstance(patch, dict):
            msg = f"A merge patch for the Thing '{thing_id}' must be a JSON object, not {patch!r:.80}."
            raise invalid_json(msg)
        if "thingId" in patch:
            if patch["thingId"] is None:
                raise thing_id_not_deletable(thing_id)
            if patch["thingId"] != thing_id:
                raise thing_id_not_settable(patch["thingId"], thing_id)
    if (kind is Resource.POLICY_ID and patch is None) or (
        kind is Resource.THING and "policyId" in patch and patch["policyId"] is None
    ):
        raise policy_id_not_deletable(thing_id)
    root_patch = nest(parts, patch)
    if patch is None and get_at(thing, parts) is MISSING:
        merged = thing  # deleting what is not there changes nothing, but is still a merge
    else:
        merged = merge_patch(thing, root_patch)
    checked = check_merged(thing_id, merged, root_patch, keys_checked=keys_checked)
    checked.setdefault("policyId", thing.get("policyId", thing_id))
    new = ThingRecord(thing_id, record.revision + 1, _ordered(checked), record.created, now, record.metadata)
    return Change(new, False, "merged", parts, patch, private=True)


def _merge_values_only(thing: dict[str, JSON], patch: dict[str, JSON]) -> dict[str, JSON] | None:
    """A merge at `/` that only sets attributes and feature (desired) properties; else `None`.

    Such a patch cannot break the thing (its keys were checked already): below `attributes` and
    `properties` any JSON goes, so nothing is re-validated and only the objects on the way are
    copied. Anything else (a deletion, a definition, a policy id, ...) takes the general path.
    """
    out = dict(thing)
    for key, value in patch.items():
        if type(value) is not dict:
            return None
        if key == "attributes":
            out[key] = merge_patch(thing.get(key), value)
        elif key == "features":
            features = thing.get("features")
            features = dict(features) if isinstance(features, dict) else {}
            for fid, feature_patch in value.items():
                if type(feature_patch) is not dict or not fid:
                    return None
                feature = features.get(fid)
                feature = dict(feature) if isinstance(feature, dict) else {}
                for member, members in feature_patch.items():
                    if member not in _VALUE_MEMBERS or type(members) is not dict:
                        return None
                    feature[member] = merge_patch(feature.get(member), members)
                features[fid] = feature
            out[key] = features
        else:
            return None
    return out if all(key in thing for key in patch) else _ordered(out)


_VALUE_MEMBERS = frozenset({"properties", "desiredProperties"})


def apply_delete(record: ThingRecord | None, thing_id: str, parts: Pointer, now: float) -> Change:
    """Delete the resource at `parts` (the whole thing for `()`); 404 when it is not there."""
    kind = classify(parts)
    record, thing = _live(record, thing_id)
    if kind is Resource.POLICY_ID:
        raise policy_id_not_deletable(thing_id)
    if kind is Resource.THING:
        new = replace(record, revision=record.revision + 1, thing=None, modified=now, metadata=None)
        return Change(new, False, "deleted", parts, None)
    if get_at(thing, parts) is MISSING:
        raise _missing(thing, thing_id, parts)
    new = replace(record, revision=record.revision + 1, thing=delete_at(thing, parts), modified=now)
    return Change(new, False, "deleted", parts, None)
