"""JSON merge patch (RFC 7396) with Ditto's semantics: `null` deletes, objects merge, the rest replaces."""

from __future__ import annotations

import re
from typing import Any

from centinela.twin.pointer import copy_along

__all__ = ["merge_at", "merge_patch", "strip_nulls"]

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
    their `null` members, so the result never holds a `null` that came from an object patch, nor
    any object or array of the patch itself (so the patch may be handed out after the merge).
    """
    if not isinstance(patch, dict):
        return patch
    out = dict(target) if isinstance(target, dict) else {}
    if None in patch.values():
        for key, value in patch.items():
            if value is None and key.startswith("{{"):
                regex = _regex_key(key)
                if regex is not None:
                    # Ditto's extension: `"{{ ~<regex>~ }}": null` deletes every matching key first.
                    for existing in [k for k in out if regex.search(k)]:
                        del out[existing]
    for key, value in patch.items():
        kind = type(value)
        if kind is dict:
            out[key] = merge_patch(out.get(key), value)
        elif value is None:
            out.pop(key, None)
        elif kind is list:
            out[key] = _copy_list(value)
        elif isinstance(value, dict):
            out[key] = merge_patch(out.get(key), value)
        elif isinstance(value, list):
            out[key] = _copy_list(value)
        else:
            out[key] = value
    return out


def merge_at(target: dict[str, JSON], parts: tuple[str, ...], patch: JSON) -> dict[str, JSON]:
    """`merge_patch(target, patch nested at parts)`, copying only the objects along `parts`.

    `parts` must not be empty. Objects missing along the way (or scalars in the way) become
    objects, as the nested patch would make them.
    """
    last = parts[-1]
    if patch is None and last.startswith("{{"):
        nested: JSON = patch  # a regular-expression deletion: let `merge_patch` read the key
        for key in reversed(parts):
            nested = {key: nested}
        return dict(merge_patch(target, nested))
    out, node = copy_along(target, parts[:-1])
    if patch is None:
        node.pop(last, None)
    elif isinstance(patch, dict):
        node[last] = merge_patch(node.get(last), patch)
    elif isinstance(patch, list):
        node[last] = _copy_list(patch)
    else:
        node[last] = patch
    return out


def _copy_list(value: list[JSON]) -> list[JSON]:
    return [
        _copy_list(v) if isinstance(v, list) else _copy_dict(v) if isinstance(v, dict) else v for v in value
    ]


def _copy_dict(value: dict[str, JSON]) -> dict[str, JSON]:
    return {
        k: _copy_list(v) if isinstance(v, list) else _copy_dict(v) if isinstance(v, dict) else v
        for k, v in value.items()
    }


def strip_nulls(value: JSON) -> JSON:
    """`value` without `null` object members, recursively (what a merge patch does to new keys)."""
    if isinstance(value, dict):
        return {k: strip_nulls(v) for k, v in value.items() if v is not None}
    return value
