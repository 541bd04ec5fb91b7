"""Thing ids as Ditto defines them: `namespace:name`, at most 256 characters."""

from __future__ import annotations

import re
from dataclasses import dataclass

from centinela.twin.errors import thing_id_invalid

__all__ = [
    "MAX_ID_LENGTH",
    "NAMESPACE_PATTERN",
    "THING_ID_PATTERN",
    "ThingId",
    "is_valid_namespace",
    "namespace_of",
    "validate_thing_id",
]

MAX_ID_LENGTH = 256
"""Ditto's limit on a namespaced id, namespace and colon included."""

# Ditto: the namespace is empty or dot/dash separated segments each starting with a letter; the name
# is anything but control characters (and 0x7F-0xFF) and the slash. `\w` is ASCII as in Java.
_NAMESPACE = r"(?:[a-zA-Z]\w*(?:[.-][a-zA-Z]\w*)*)?"
_NAME = r"[^\x00-\x1F\x7F-\xFF/]+"
NAMESPACE_PATTERN = re.compile(rf"{_NAMESPACE}", re.ASCII)
THING_ID_PATTERN = re.compile(rf"(?P<namespace>{_NAMESPACE}):(?P<name>{_NAME})", re.ASCII)


@dataclass(frozen=True, slots=True)
class ThingId:
    """A validated thing id split into its namespace and name."""

    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}:{self.name}"

    @classmethod
    def parse(cls, text: str) -> ThingId:
        """Parse `namespace:name`; raise `TwinError` 400 `things:id.invalid` when it breaks the rule."""
        if not isinstance(text, str):
            raise thing_id_invalid(str(text), "It is not a string.")
        if len(text) > MAX_ID_LENGTH:
            raise thing_id_invalid(text, f"It is {len(text)} characters long, the limit is {MAX_ID_LENGTH}.")
        match = THING_ID_PATTERN.fullmatch(text)
        if match is None:
            raise thing_id_invalid(text)
        return cls(match["namespace"], match["name"])


def validate_thing_id(text: str) -> str:
    """Return `text` when it is a valid thing id, else raise `TwinError` (400 `things:id.invalid`)."""
    ThingId.parse(text)
    return text


def namespace_of(thing_id: str) -> str:
    """The namespace of a (valid) thing id: the part before the first colon."""
    return thing_id.partition(":")[0]


def is_valid_namespace(namespace: str) -> bool:
    return NAMESPACE_PATTERN.fullmatch(namespace) is not None
