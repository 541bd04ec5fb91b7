"""Readings: one value of one point at one source time, with its quality."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

__all__ = ["DeadbandFilter", "Quality", "Reading", "Scalar"]

Scalar = float | int | bool
"""A point's value after decoding and scaling."""


class Quality(Enum):
    """How far a reading can be trusted (OPC-UA's good / uncertain / bad severities)."""

    GOOD = "good"
    UNCERTAIN = "uncertain"
    BAD = "bad"


@dataclass(frozen=True, slots=True)
class Reading:
    """One value of a point, addressed as a Ditto feature property of a thing.

    `time` is the source time (UTC epoch seconds): the device's timestamp when it has one
    (OPC-UA), the poll's completion time otherwise (Modbus). A `BAD` reading has no value and
    is never written to a twin.
    """

    thing_id: str
    feature: str
    property: str
    value: Scalar | None
    time: float
    quality: Quality = Quality.GOOD
    point: str = ""

    def pointer(self) -> str:
        """JSON pointer of the property relative to `/features`."""
        return f"/{self.feature}/properties/{self.property}"


class DeadbandFilter:
    """Report-by-exception: passes a reading only when it moved more than its point's deadband.

    A point whose deadband is `None` passes every reading. Bools pass on any change.
    """

    def __init__(self) -> None:
        self._last: dict[str, Scalar] = {}

    def passes(self, key: str, value: Scalar, deadband: float | None) -> bool:
        if deadband is None:
            return True
        last = self._last.get(key)
        if last is not None and (
            value == last if isinstance(value, bool) else abs(float(value) - float(last)) <= deadband
        ):
            return False
        self._last[key] = value
        return True
