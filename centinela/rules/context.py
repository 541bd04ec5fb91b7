"""Per-thing evaluation state: current values, series, alarm statuses and health of one bound class."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from centinela.dsl.program import MISSING, TwinClass
from centinela.rules.alarms import AlarmStatus
from centinela.rules.series import PointSeries

__all__ = ["Reading", "ThingContext", "thing_values"]


@dataclass(frozen=True, slots=True)
class Reading:
    """One input value of a thing at an event time (seconds)."""

    thing_id: str
    path: str
    value: Any
    time: float


def thing_values(thing_id: str) -> dict[str, Any]:
    namespace, _, name = thing_id.partition(":")
    return {"thing:id": thing_id, "thing:namespace": namespace, "thing:name": name}


@dataclass(slots=True)
class ThingContext:
    """The `EvalContext` of one thing under one twin class, plus everything the engine keeps for it."""

    thing_id: str
    twin_class: TwinClass
    horizons: dict[str, float]
    values: dict[str, Any] = field(default_factory=dict)
    now: float = 0.0
    store: dict[str, PointSeries] = field(default_factory=dict)
    alarms: dict[str, AlarmStatus] = field(default_factory=dict)
    deadlines: dict[str, float] = field(default_factory=dict)  # alarm name -> its next deadline
    health: dict[str, str] = field(default_factory=dict)
    seen: dict[str, float] = field(default_factory=dict)
    written: dict[str, Any] = field(default_factory=dict)
    duplicates: int = 0
    wake: float | None = None
    scheduled: float | None = None  # the time of this context's entry in the engine's timer heap
    kernels: dict[str, Any] = field(default_factory=dict)  # input path -> the engine's fused ingest
    dormant: bool = False  # the class's `where` is false: values tracked, no rules, no alarms, no timers

    def series(self, key: str) -> PointSeries:
        series = self.store.get(key)
        if series is None:
            series = self.store[key] = PointSeries(self.horizons.get(key, 0.0))
        return series

    def to_json(self) -> dict[str, Any]:
        return {
            "thing": self.thing_id,
            "class": self.twin_class.name,
            "values": {k: v for k, v in self.values.items() if v is not MISSING and _plain(v)},
            "now": self.now,
            "series": {k: s.to_json() for k, s in self.store.items()},
            "alarms": {k: a.to_json() for k, a in self.alarms.items()},
            "health": self.health,
            "seen": self.seen,
            "written": self.written,
            "duplicates": self.duplicates,
            "wake": self.wake,
            "dormant": self.dormant,
        }

    def restore(self, data: dict[str, Any]) -> None:
        """Take the saved state back; series and alarms of rules no longer loaded are dropped."""
        self.values.update(data["values"])
        self.now = float(data["now"])
        self.store = {
            k: PointSeries.from_json(self.horizons[k], s)
            for k, s in data["series"].items()
            if k in self.horizons
        }
        names = {n.name for n in self.twin_class.nodes}
        self.alarms = {k: AlarmStatus.from_json(a) for k, a in data["alarms"].items() if k in names}
        self.health = dict(data["health"])
        self.seen = {k: float(v) for k, v in data["seen"].items()}
        self.written = dict(data["written"])
        self.duplicates = int(data["duplicates"])
        self.wake = data["wake"]
        self.dormant = bool(data.get("dormant", False))


def _plain(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool | list | dict)
