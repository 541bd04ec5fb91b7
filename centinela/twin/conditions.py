"""Conditional requests: entity tags (`"rev:N"`, `"hash:..."`), If-Match / If-None-Match, RQL `condition`."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from centinela.errors import TwinError
from centinela.twin.commands import ThingRecord
from centinela.twin.errors import not_modified, precondition_failed
from centinela.twin.pointer import MISSING, Pointer, delete_at, get_at, parse_pointer

__all__ = ["PATCH_CONDITIONS", "apply_patch_conditions", "check_preconditions", "etag_matches", "etag_of"]

PATCH_CONDITIONS = "merge-thing-patch-conditions"
"""Ditto's header mapping parts of a merge patch (pointers) to RQL conditions on the current thing."""

JSON = Any


def etag_of(parts: Pointer, revision: int, value: JSON) -> str:
    """Ditto's entity tag: `"rev:N"` for a thing, `"hash:<hex>"` of the value for a sub-resource."""
    if not parts:
        return f'"rev:{revision}"'
    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return f'"hash:{hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()[:8]}"'


def etag_matches(header: str, etag: str | None) -> bool:
    """Whether an If-Match / If-None-Match header value names `etag` (`*` names any existing one)."""
    if etag is None:
        return False
    wanted = [tag.strip() for tag in header.split(",")]
    return "*" in wanted or etag in wanted or etag.strip('"') in wanted


def check_preconditions(
    record: ThingRecord | None,
    parts: Pointer,
    *,
    if_match: str | None,
    if_none_match: str | None,
    condition: str | None,
    reading: bool,
    view: Callable[[ThingRecord], dict[str, JSON]],
) -> None:
    """Raise 412 (or 304 for a read matching If-None-Match) when a precondition does not hold.

    The RQL `condition` is checked against the thing as a whole (`view` adds `_revision` etc.);
    it does not apply while the thing does not exist.
    """
    if if_match is None and if_none_match is None and condition is None:
        return
    current: str | None = None
    if record is not None and record.thing is not None:
        value = get_at(record.thing, parts)
        if value is not MISSING:
            current = etag_of(parts, record.revision, value)
    if if_match is not None and not etag_matches(if_match, current):
        header = "if-match"
        raise precondition_failed(header, if_match)
    if if_none_match is not None and etag_matches(if_none_match, current):
        header = "if-none-match"
        if reading:
            raise not_modified(header, if_none_match)
        raise precondition_failed(header, if_none_match)
    if condition is not None and record is not None and record.thing is not None:
        from centinela.twin.rql import check_condition

        check_condition(condition, view(record), record.thing_id)


def _invalid_patch_conditions(text: str, reason: str) -> TwinError:
    return TwinError(
        400,
        "things:patch.conditions.invalid",
        f"The '{PATCH_CONDITIONS}' header '{text:.200}' is not valid: {reason}.",
        'It is a JSON object of pointers into the patch and RQL conditions, e.g. {"features/t/properties/v": '
        '"gt(features/t/properties/v,20)"}.',
    )


def apply_patch_conditions(patch: JSON, header: str, thing: dict[str, JSON]) -> tuple[JSON, bool]:
    """The merge patch without the parts whose condition does not hold on `thing` (as it is now).

    Pointers are relative to the patch. Objects left empty by a dropped part are dropped too, so
    the merge does not create them. Returns the patch and whether anything is left to apply.
    """
    from centinela.twin.rql import compile_filter

    try:
        conditions = json.loads(header)
    except ValueError as exc:
        raise _invalid_patch_conditions(header, "it is not JSON") from exc
    if not isinstance(conditions, dict) or not all(isinstance(v, str) for v in conditions.values()):
        raise _invalid_patch_conditions(header, "it is not a JSON object of RQL strings")
    if not isinstance(patch, dict):
        return patch, True
    dropped = False
    for pointer, condition in conditions.items():
        parts = parse_pointer(pointer)
        if not parts or get_at(patch, parts) is MISSING or compile_filter(condition)(thing):
            continue
        patch = delete_at(patch, parts)
        dropped = True
        for depth in range(len(parts) - 1, 0, -1):
            if get_at(patch, parts[:depth]) == {}:
                patch = delete_at(patch, parts[:depth])
    return patch, not (dropped and patch == {})
