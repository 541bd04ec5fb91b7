"""Thing metadata as Ditto keeps it: `_metadata` mirrors the thing, set with the `put-metadata` header."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import Any

from centinela.errors import TwinError
from centinela.twin.commands import Change
from centinela.twin.pointer import MISSING, Pointer, delete_at, get_at, parse_pointer, set_at

__all__ = ["DELETE_METADATA", "PUT_METADATA", "apply_metadata_headers", "leaves", "prune", "with_metadata"]

JSON = Any
PUT_METADATA = "put-metadata"
DELETE_METADATA = "delete-metadata"


def _invalid(header: str, value: str, reason: str) -> TwinError:
    return TwinError(
        400,
        "things:metadata.invalid",
        f"The '{header}' header '{value:.200}' is not valid: {reason}.",
        'put-metadata is a JSON array of {"key": <pointer>, "value": <JSON>}; a key \'*/<name>\' sets '
        "<name> on every leaf the request writes. delete-metadata is a comma separated list of pointers.",
    )


def leaves(value: JSON, at: Pointer = ()) -> Iterator[Pointer]:
    """The pointers of every non-object value in `value` (an empty object counts as a leaf)."""
    if isinstance(value, dict) and value:
        for key, child in value.items():
            if child is not None:
                yield from leaves(child, (*at, key))
    else:
        yield at


def _entries(text: str) -> list[tuple[str, JSON]]:
    try:
        entries = json.loads(text)
    except ValueError as exc:
        raise _invalid(PUT_METADATA, text, "it is not JSON") from exc
    if not isinstance(entries, list):
        raise _invalid(PUT_METADATA, text, "it is not a JSON array")
    out = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("key"), str) or "value" not in entry:
            raise _invalid(PUT_METADATA, text, "every item needs a string 'key' and a 'value'")
        out.append((entry["key"], entry["value"]))
    return out


def apply_metadata_headers(
    metadata: dict[str, JSON] | None, base: Pointer, value: JSON, headers: Mapping[str, str]
) -> dict[str, JSON] | None:
    """`metadata` after a write of `value` at `base` carrying `put-metadata` / `delete-metadata`.

    Keys are relative to `base` (the command's path); `*/<name>` applies to every leaf of the
    written value. Returns `metadata` itself when the headers ask for nothing.
    """
    put = headers.get(PUT_METADATA)
    delete = headers.get(DELETE_METADATA)
    if put is None and delete is None:
        return metadata
    out: dict[str, JSON] = metadata or {}
    if delete is not None:
        for item in delete.split(","):
            if not item.strip():
                raise _invalid(DELETE_METADATA, delete, "it holds an empty pointer")
            parts = (*base, *parse_pointer(item.strip()))
            if parts and get_at(out, parts) is not MISSING:
                out = delete_at(out, parts)
    if put is not None:
        for key, entry in _entries(put):
            if key.startswith("*/"):
                name = parse_pointer(key[2:])
                for leaf in leaves(value):
                    out = set_at(out, (*base, *leaf, *name), entry)
            else:
                parts = (*base, *parse_pointer(key))
                if not parts:
                    raise _invalid(PUT_METADATA, put, "a key must name a member, not the root")
                out = set_at(out, parts, entry)
    return out or None


def prune(metadata: dict[str, JSON] | None, parts: Pointer) -> dict[str, JSON] | None:
    """`metadata` without what was recorded at or below `parts` (a deleted resource)."""
    if metadata is None:
        return None
    if not parts:
        return None
    if get_at(metadata, parts) is MISSING:
        return metadata
    return delete_at(metadata, parts) or None


def with_metadata(change: Change, headers: Mapping[str, str]) -> Change:
    """The change with `_metadata` kept in step: pruned where values went, set from the headers."""
    record = change.record
    metadata = record.metadata
    if metadata is None and PUT_METADATA not in headers and DELETE_METADATA not in headers:
        return change  # nothing recorded, nothing asked for
    if change.action == "deleted" or (change.action == "merged" and change.value is None):
        metadata = prune(metadata, change.path)
    elif change.action == "merged" and isinstance(change.value, dict):
        for gone in _nulls(change.value, change.path):
            metadata = prune(metadata, gone)
    if record.thing is not None:
        metadata = apply_metadata_headers(metadata, change.path, change.value, headers)
    if metadata is record.metadata:
        return change
    return replace(change, record=replace(record, metadata=metadata))


def _nulls(patch: dict[str, JSON], at: Pointer) -> Iterator[Pointer]:
    for key, value in patch.items():
        if value is None:
            yield (*at, key)
        elif isinstance(value, dict):
            yield from _nulls(value, (*at, key))
