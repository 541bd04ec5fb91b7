"""What the embedded store's lower-level API returns: write and read results with status and ETag."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from centinela.ports import ThingEvent
from centinela.twin.conditions import etag_of
from centinela.twin.pointer import MISSING, Pointer

__all__ = ["ReadResult", "WriteResult"]

JSON = Any


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What a change did: HTTP 201 (`created`, with `value`) or 204, the new revision and ETag.

    `etag` is computed on first use (a sub-resource's tag hashes its value).
    """

    revision: int
    created: bool
    value: JSON
    path: Pointer
    current: JSON
    event: ThingEvent | None
    """The event the change produced (`None` when a conditional merge had nothing left to apply)."""

    @property
    def status(self) -> int:
        return 201 if self.created else 204

    @property
    def etag(self) -> str | None:
        """The resource's ETag after the change (`None` once it is deleted)."""
        if self.current is MISSING:
            return None
        return etag_of(self.path, self.revision, self.current)


@dataclass(frozen=True, slots=True)
class ReadResult:
    """A retrieved value with the thing's revision and the resource's ETag."""

    value: JSON
    revision: int
    etag: str
