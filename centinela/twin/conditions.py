"""Conditional requests: entity tags (`"rev:N"`, `"hash:..."`), If-Match / If-None-Match, RQL `condition`."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from centinela.twin.commands import ThingRecord
from centinela.twin.errors import not_modified, precondition_failed
from centinela.twin.pointer import MISSING, Pointer, get_at

__all__ = ["check_preconditions", "etag_matches", "etag_of"]

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
