"""What one engine step produces: merge patches per thing, alarm events, history samples, health."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from centinela.ports import AlarmRecord, Sample

__all__ = ["AlarmEvent", "HealthEvent", "StepOutput", "pointer_parts"]


_PARTS: dict[str, list[str]] = {}


def pointer_parts(pointer: str) -> list[str]:
    """Split a JSON pointer into its unescaped reference tokens (`/a~1b/c` -> ['a/b', 'c'])."""
    parts = _PARTS.get(pointer)
    if parts is None:
        parts = (
            []
            if pointer in ("", "/")
            else [p.replace("~1", "/").replace("~0", "~") for p in pointer.lstrip("/").split("/")]
        )
        if len(_PARTS) < 100_000:  # pointers of rules and features: a small, fixed set
            _PARTS[pointer] = parts
    return parts


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


class StepOutput:
    """Effects collected while the engine runs; the runtime hands them to the sinks.

    Recording is kept cheap (flat pointer -> value per thing, tuples for samples); `patches`
    (one nested merge patch per thing) and `samples` are built when a sink asks for them.
    """

    __slots__ = ("changes", "alarms", "rows", "health")

    def __init__(self) -> None:
        self.changes: dict[str, dict[str, Any]] = {}
        self.alarms: list[AlarmEvent] = []
        self.rows: list[tuple[float, str, str, Any]] = []
        self.health: list[HealthEvent] = []

    def patch(self, thing_id: str, pointer: str, value: Any) -> None:
        changes = self.changes.get(thing_id)
        if changes is None:
            changes = self.changes[thing_id] = {}
        changes[pointer] = value

    def sample(self, time: float, thing_id: str, path: str, value: Any) -> None:
        self.rows.append((time, thing_id, path, value))

    @property
    def patches(self) -> dict[str, dict[str, Any]]:
        """One RFC 7396 merge patch (at `/`) per thing, later values of a pointer winning."""
        built: dict[str, dict[str, Any]] = {}
        for thing_id, changes in self.changes.items():
            root: dict[str, Any] = {}
            for pointer, value in changes.items():
                node = root
                parts = pointer_parts(pointer)
                for part in parts[:-1]:
                    child = node.get(part)
                    if not isinstance(child, dict):
                        child = node[part] = {}
                    node = child
                node[parts[-1]] = _json_value(value)
            built[thing_id] = root
        return built

    @property
    def samples(self) -> list[Sample]:
        out = []
        for time, thing_id, path, value in self.rows:
            number = float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
            out.append(
                Sample(time, thing_id, path, number, None if number is not None else _json_value(value))
            )
        return out

    def __bool__(self) -> bool:
        return bool(self.changes or self.alarms or self.rows or self.health)

    def extend(self, other: StepOutput) -> None:
        for thing, changes in other.changes.items():
            self.changes.setdefault(thing, {}).update(changes)
        self.alarms.extend(other.alarms)
        self.rows.extend(other.rows)
        self.health.extend(other.health)

    def clear(self) -> None:
        self.changes.clear()
        self.alarms.clear()
        self.rows.clear()
        self.health.clear()
