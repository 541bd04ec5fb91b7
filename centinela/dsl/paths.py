"""Path resolution: `feature.property`, `attributes.a.b`, `desired.f.p`, `thing.id`, pointers → keys."""

from __future__ import annotations

import re
from dataclasses import dataclass

from centinela.dsl import ast

__all__ = ["PathError", "Resolved", "is_safe_name", "pointer_of", "resolve_path"]

_SAFE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
THING_FIELDS = ("id", "namespace", "name")


@dataclass(frozen=True, slots=True)
class Resolved:
    """Where a path's value lives: `key` in ctx.values; `kind`: input, attribute, desired, thing or let."""

    key: str
    kind: str


class PathError(ValueError):
    """A path that cannot name a value; `code` is the diagnostic code, `hint` an optional hint."""

    def __init__(self, message: str, code: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.hint = hint


def is_safe_name(name: str) -> bool:
    """Identifiers the language accepts: plain ASCII names that do not start with a double underscore."""
    return bool(_SAFE.match(name)) and not name.startswith("__")


def _escape(segment: str) -> str:
    return segment.replace("~", "~0").replace("/", "~1")


def pointer_of(kind: str, segments: tuple[str, ...]) -> str:
    if kind == "attribute":
        return "/attributes/" + "/".join(_escape(s) for s in segments)
    middle = "desiredProperties" if kind == "desired" else "properties"
    feature, rest = segments[0], segments[1:]
    return f"/features/{_escape(feature)}/{middle}/" + "/".join(_escape(s) for s in rest)


def resolve_path(path: ast.Path, lets: set[str] | frozenset[str]) -> Resolved:
    """Resolve a path to its key; raises PathError (E016 invalid path, E013 unknown name, E018 unsafe)."""
    if path.pointer is not None:
        return _resolve_pointer(path.pointer)
    segs = path.segments
    for s in segs:
        if not is_safe_name(s):
            msg = f"The name '{s}' in '{path.text}' is not allowed: names starting with '__' are reserved."
            raise PathError(msg, "E018", "rename the property, or quote the Ditto JSON pointer in backquotes")
    head = segs[0]
    if len(segs) == 1:
        if head in lets:
            return Resolved(f"let:{head}", "let")
        msg = f"The name '{head}' is not a let of this twin class nor a path."
        raise PathError(msg, "E013")
    if head == "attributes":
        return Resolved(pointer_of("attribute", segs[1:]), "attribute")
    if head == "thing":
        if len(segs) != 2 or segs[1] not in THING_FIELDS:
            msg = (
                f"The path '{path.text}' does not exist: a thing has only thing.id, thing.namespace "
                "and thing.name."
            )
            raise PathError(msg, "E016", "use thing.id, thing.namespace or thing.name")
        return Resolved(f"thing:{segs[1]}", "thing")
    if head == "desired":
        if len(segs) < 3:
            msg = f"The path '{path.text}' needs a feature and a property after 'desired'."
            raise PathError(msg, "E016", "write desired.feature.property")
        return Resolved(pointer_of("desired", segs[1:]), "desired")
    return Resolved(pointer_of("input", segs), "input")


def _resolve_pointer(pointer: str) -> Resolved:
    parts = pointer.split("/")[1:]
    ok = len(parts) >= 2 and all(parts)
    if ok and parts[0] == "attributes":
        return Resolved(pointer, "attribute")
    if ok and parts[0] == "features" and len(parts) >= 4 and parts[2] in ("properties", "desiredProperties"):
        return Resolved(pointer, "input" if parts[2] == "properties" else "desired")
    msg = f"The JSON pointer '{pointer}' does not name an attribute or a feature property."
    raise PathError(msg, "E016", "write `/attributes/a/b` or `/features/f/properties/p`")
