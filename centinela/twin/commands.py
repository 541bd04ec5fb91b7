"""The pure core of the store: a thing record and a command in, the new record and its event out."""

from __future__ import annotations

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
from centinela.twin.merge import merge_patch, strip_nulls
from centinela.twin.model import THING_FIELDS, Resource, classify, validate_value
from centinela.twin.pointer import MISSING, Pointer, delete_at, get_at, nest, set_at

__all__ = ["Change", "ThingRecord", "apply_create", "apply_delete", "apply_merge", "apply_modify", "read"]

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


@dataclass(frozen=True, slots=True)
class Change:
    """The result of one command: the record after it and what the event reports."""

    record: ThingRecord
    created: bool
    action: str
    path: Pointer
    value: JSON


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
    new = replace(record, revision=record.revision + 1, thing=new_thing, modified=now)
    return Change(new, created, "created" if created else "modified", parts, value)


def apply_merge(record: ThingRecord | None, thing_id: str, parts: Pointer, patch: JSON, now: float) -> Change:
    """Apply a merge patch at `parts` (RFC 7396; `null` deletes); missing objects are created."""
    kind = classify(parts)
    record, thing = _live(record, thing_id)
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
    if patch is None and get_at(thing, parts) is MISSING:
        merged = thing  # deleting what is not there changes nothing, but is still a merge
    else:
        merged = merge_patch(thing, nest(parts, patch))
    checked = validate_value(Resource.THING, merged, thing_id=thing_id, feature_id="")
    checked.setdefault("policyId", thing.get("policyId", thing_id))
    new = replace(record, revision=record.revision + 1, thing=_ordered(checked), modified=now)
    if kind is not Resource.THING and patch is not None:
        # The patch itself must also fit its resource (e.g. a feature definition stays a list).
        validate_value(
            kind,
            strip_nulls(patch) if isinstance(patch, dict) else patch,
            thing_id=thing_id,
            feature_id=_feature_id(parts),
        )
    return Change(new, False, "merged", parts, patch)


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
