"""What one engine step produces: merge patches per thing, alarm events, history samples, health."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from centinela.ports import AlarmRecord, Sample

__all__ = ["AlarmEvent", "HealthEvent", "StepOutput", "pointer_parts"]


def pointer_parts(pointer: str) -> list[str]:
    """Split a JSON pointer into its unescaped reference tokens (`/a~1b/c` -> ['a/b', 'c'])."""
    if pointer in ("", "/"):
        return []
    return [p.replace("~1", "/").replace("~0", "~") for p in pointer.lstrip("/").split("/")]


@dataclass(frozen=True, slots=True)
class AlarmEvent:
    """One alarm transition of one rule on one thing, explained; `id` is deterministic."""

    id: str
    time: float
    rule: str
    thing_id: str
    twin_class: str
    severity: str
    previous: str
    state: str
    cause: str
    active: bool
    latched: bool
    chattering: bool
    value: Any
    message: str
    explanation: str
    operands: tuple[dict[str, Any], ...]
    version: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "time": self.time,
            "rule": self.rule,
            "thingId": self.thing_id,
            "class": self.twin_class,
            "severity": self.severity,
            "previous": self.previous,
            "state": self.state,
            "cause": self.cause,
            "active": self.active,
            "latched": self.latched,
            "chattering": self.chattering,
            "value": _json_value(self.value),
            "message": self.message,
            "explanation": self.explanation,
            "operands": list(self.operands),
            "version": self.version,
        }

    def record(self) -> AlarmRecord:
        value = (
            self.value if isinstance(self.value, int | float) and not isinstance(self.value, bool) else None
        )
        details = {
            k: v
            for k, v in self.to_json().items()
            if k
            in (
                "previous",
                "cause",
                "active",
                "latched",
                "chattering",
                "explanation",
                "operands",
                "version",
                "class",
            )
        }
        return AlarmRecord(
            self.time,
            self.id,
            self.thing_id,
            self.rule,
            self.state,
            self.severity,
            None if value is None else float(value),
            self.message,
            details,
        )


@dataclass(frozen=True, slots=True)
class HealthEvent:
    """A rule that failed (or recovered, `error` None) for one thing."""

    time: float
    thing_id: str
    rule: str
    error: str | None
    where: str


def _json_value(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool | list | dict):
        return value
    return str(value)


@dataclass(slots=True)
class StepOutput:
    """Effects collected while the engine runs; the runtime hands them to the sinks."""

    patches: dict[str, dict[str, Any]] = field(default_factory=dict)
    alarms: list[AlarmEvent] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    health: list[HealthEvent] = field(default_factory=list)

    def patch(self, thing_id: str, pointer: str, value: Any) -> None:
        node = self.patches.setdefault(thing_id, {})
        parts = pointer_parts(pointer)
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[parts[-1]] = _json_value(value)

    def sample(self, time: float, thing_id: str, path: str, value: Any) -> None:
        number = float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
        self.samples.append(
            Sample(time, thing_id, path, number, None if number is not None else _json_value(value))
        )

    def extend(self, other: StepOutput) -> None:
        for thing, patch in other.patches.items():
            _merge(self.patches.setdefault(thing, {}), patch)
        self.alarms.extend(other.alarms)
        self.samples.extend(other.samples)
        self.health.extend(other.health)

    def clear(self) -> None:
        self.patches.clear()
        self.alarms.clear()
        self.samples.clear()
        self.health.clear()


def _merge(into: dict[str, Any], patch: dict[str, Any]) -> None:
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value
