"""JSON pointers (RFC 6901) with Ditto's rules, and copy-on-write access to JSON values by pointer."""

from __future__ import annotations

import functools
import math
from typing import Any

from centinela.twin.errors import invalid_pointer

__all__ = [
    "MISSING",
    "Pointer",
    "checked_json",
    "copy_along",
    "checked_patch",
    "copy_json",
    "delete_at",
    "find_all",
    "format_pointer",
    "get_at",
    "nest",
    "parse_pointer",
    "set_at",
]

JSON = Any
Pointer = tuple[str, ...]
"""A parsed pointer: its unescaped keys, `()` for the root."""


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
"""Returned by `get_at` when nothing is at the pointer."""

_CONTROL = {chr(c) for c in range(0x20)} | {"\x7f"}


def parse_pointer(text: str) -> Pointer:
    """Parse a pointer such as `/features/pressure/properties/tubing` into its keys (cached)."""
    if not isinstance(text, str):
        raise invalid_pointer(str(text), "it is not a string")
    return _parse_cached(text)


@functools.lru_cache(maxsize=4096)
def _parse_cached(text: str) -> Pointer:
    """Parse a pointer.

    As in Ditto the leading slash is optional, a single trailing slash is ignored, `/` is the
    root, and empty keys (`//`) or control characters are rejected with `TwinError` 400.
    """
    if "//" in text:
        raise invalid_pointer(text, "consecutive slashes are not supported")
    body = text[1:] if text.startswith("/") else text
    if body.endswith("/"):
        body = body[:-1]
    if not body:
        return ()
    if any(ch in _CONTROL for ch in body):
        raise invalid_pointer(text, "it contains a control character")
    parts = body.split("/")
    out = []
    for part in parts:
        if not part:
            raise invalid_pointer(text, "consecutive slashes are not supported")
        if "~" in part:
            if any(part[i] == "~" and part[i + 1 : i + 2] not in ("0", "1") for i in range(len(part))):
                raise invalid_pointer(text, "'~' must be followed by '0' or '1'")
            part = part.replace("~1", "/").replace("~0", "~")
        out.append(part)
    return tuple(out)


def format_pointer(parts: Pointer) -> str:
    """The pointer text for `parts` (`/` for the root), escaping `~` and `/` (cached)."""
    return _format_cached(parts)


@functools.lru_cache(maxsize=4096)
def _format_cached(parts: Pointer) -> str:
    if not parts:
        return "/"
    return "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def copy_json(value: JSON) -> JSON:
    """A deep copy of a JSON value (dicts and lists copied, scalars shared)."""
    if isinstance(value, dict):
        return {k: copy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_json(v) for v in value]
    return value


def checked_json(value: JSON, where: str = "value") -> JSON:
    """A deep copy of `value` that is sure to be JSON.

    That is objects with string keys, arrays, strings, finite numbers, booleans and null;
    anything else is a `TwinError` 400 naming it.
    """
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is float:
        if value - value == 0.0:  # finite (inf - inf and nan - nan are nan)
            return value
    elif kind is dict:
        out = {}
        for key, child in value.items():
            if type(key) is not str and not isinstance(key, str):
                msg = f"The {where} has the key {key!r}, but JSON object keys are strings."
                raise _invalid_json(msg)
            out[key] = checked_json(child, where)
        return out
    elif kind is list:
        return [checked_json(v, where) for v in value]
    return _checked_other(value, where)


def checked_patch(value: JSON, where: str = "value") -> tuple[JSON, bool]:
    """`checked_json(value)` and whether every object key in it is plain.

    Plain is what Ditto accepts anywhere: non-empty, printable, without '/'. A merge whose keys
    are all plain needs no second walk to check them (`centinela.twin.model.check_keys`).
    """
    plain = True

    def walk(node: JSON) -> JSON:
        nonlocal plain
        kind = type(node)
        if kind is str or kind is int or kind is bool or node is None:
            return node
        if kind is float and node - node == 0.0:
            return node
        if kind is dict:
            out = {}
            for key, child in node.items():
                if type(key) is not str or not key or "/" in key or not key.isprintable():
                    plain = False
                out[key] = walk(child)
            return out if plain else checked_json(node, where)  # non-string keys: its error
        if kind is list:
            return [walk(child) for child in node]
        return checked_json(node, where)

    copy = walk(value)
    return copy, plain


def _checked_other(value: JSON, where: str) -> JSON:
    """`checked_json` for what is not exactly a JSON type: subclasses, tuples, or not JSON at all."""
    if isinstance(value, dict):
        return checked_json(dict(value), where)
    if isinstance(value, list | tuple):
        return [checked_json(v, where) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        msg = f"The {where} holds the number {value!r}, which JSON cannot carry."
        raise _invalid_json(msg)
    if isinstance(value, str | int | float):
        return value
    msg = f"The {where} holds {value!r:.80} of type {type(value).__name__}, which is not JSON."
    raise _invalid_json(msg)


def _invalid_json(message: str) -> Exception:
    from centinela.twin.errors import invalid_json

    return invalid_json(message)


def get_at(doc: JSON, parts: Pointer) -> JSON:
    """The value at `parts` inside `doc`, or `MISSING`. Only objects are traversed (as in Ditto)."""
    node = doc
    for key in parts:
        if not isinstance(node, dict) or key not in node:
            return MISSING
        node = node[key]
    return node


def find_all(doc: JSON, parts: Pointer) -> list[tuple[Pointer, JSON]]:
    """Every `(pointer, value)` matching `parts`, where a `*` key matches each key of an object.

    Ditto uses the wildcard for feature ids (`features/*/properties/on`); without a `*` this is
    `get_at` returning zero or one match.
    """
    if "*" not in parts:
        found = get_at(doc, parts)
        return [] if found is MISSING else [(parts, found)]
    matches: list[tuple[Pointer, JSON]] = [((), doc)]
    for key in parts:
        following: list[tuple[Pointer, JSON]] = []
        for at, node in matches:
            if not isinstance(node, dict):
                continue
            if key == "*":
                following.extend(((*at, k), v) for k, v in node.items())
            elif key in node:
                following.append(((*at, key), node[key]))
        matches = following
    return matches


def set_at(doc: dict[str, JSON], parts: Pointer, value: JSON) -> dict[str, JSON]:
    """A new `doc` with `value` at `parts`, creating missing objects; `doc` itself is not changed.

    Objects along the path are copied (shallowly), everything else is shared. A non-object met on
    the way is replaced by an object, as Ditto does when a value is set below a scalar.
    """
    if not parts:
        if not isinstance(value, dict):
            msg = "Only an object can be set at the root."
            raise TypeError(msg)
        return value
    out, node = copy_along(doc, parts[:-1])
    node[parts[-1]] = value
    return out


def copy_along(doc: dict[str, JSON], parts: tuple[str, ...]) -> tuple[dict[str, JSON], dict[str, JSON]]:
    """A shallow copy of `doc` whose objects along `parts` are copied too: (the copy, its object at `parts`).

    A non-object (or nothing) met on the way becomes an empty object.
    """
    out = dict(doc)
    node = out
    for key in parts:
        child = node.get(key)
        child = dict(child) if isinstance(child, dict) else {}
        node[key] = child
        node = child
    return out, node


def delete_at(doc: dict[str, JSON], parts: Pointer) -> dict[str, JSON]:
    """A new `doc` without the value at `parts` (which must exist); `doc` itself is not changed."""
    if not parts:
        msg = "The root cannot be deleted from a document."
        raise KeyError(msg)
    out = dict(doc)
    node = out
    for key in parts[:-1]:
        child = dict(node[key])
        node[key] = child
        node = child
    del node[parts[-1]]
    return out


def nest(parts: Pointer, value: JSON) -> JSON:
    """`value` wrapped in objects so that it sits at `parts`: `nest(("a", "b"), 1) == {"a": {"b": 1}}`."""
    for key in reversed(parts):
        value = {key: value}
    return value
