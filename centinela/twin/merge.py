"""JSON merge patch (RFC 7396) with Ditto's semantics: `null` deletes, objects merge, the rest replaces."""

from __future__ import annotations

import re
from typing import Any

__all__ = ["merge_patch", "strip_nulls"]

JSON = Any
_REGEX_KEY = re.compile(r"\{\{\s*~(.*)~\s*\}\}", re.DOTALL)


def _regex_key(key: str) -> re.Pattern[str] | None:
    match = _REGEX_KEY.fullmatch(key)
    if match is None:
        return None
    try:
        return re.compile(match[1])
    except re.error as exc:
        from centinela.twin.errors import invalid_json

        msg = f"The merge patch key '{key}' holds an invalid regular expression: {exc}."
        raise invalid_json(msg) from exc


def merge_patch(target: JSON, patch: JSON) -> JSON:
    """Return `target` with `patch` applied; neither argument is changed.

    A non-object patch replaces the target; an object patch merges key by key, a `null` member
    deleting the key, and (Ditto's extension) a `null` member keyed `{{ ~<regex>~ }}` deleting
    every key the regular expression matches. Values taken from the patch are copied without
    their `null` members, so the result never holds a `null` that came from an object patch.
    """
    if not isinstance(patch, dict):
        return patch
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        regex = _regex_key(key) if value is None else None
        if regex is not None:
            # Ditto's extension: `"{{ ~<regex>~ }}": null` deletes every matching key first.
            for existing in [k for k in out if regex.search(k)]:
                del out[existing]
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict):
            out[key] = merge_patch(out.get(key), value)
        else:
            out[key] = value
    return out


def strip_nulls(value: JSON) -> JSON:
    """`value` without `null` object members, recursively (what a merge patch does to new keys)."""
    if isinstance(value, dict):
        return {k: strip_nulls(v) for k, v in value.items() if v is not None}
    return value
