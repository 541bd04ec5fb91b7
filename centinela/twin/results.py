"""What the embedded store's lower-level API returns: write and read results with status and ETag."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from centinela.ports import ThingEvent

__all__ = ["ReadResult", "WriteResult"]

JSON = Any


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What a change did: HTTP 201 (`created`, with `value`) or 204, the new revision and ETag."""

    revision: int
    created: bool
    value: JSON
    etag: str | None
    event: ThingEvent

    @property
    def status(self) -> int:
        return 201 if self.created else 204


@dataclass(frozen=True, slots=True)
class ReadResult:
    """A retrieved value with the thing's revision and the resource's ETag."""

    value: JSON
    revision: int
    etag: str
