"""Building and reading Ditto Protocol messages for things: commands, responses, events, errors, acks."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from centinela.errors import TwinError
from centinela.ports import ThingEvent
from centinela.twin.errors import error_from_body
from centinela.twin.model import from_iso, to_iso
from centinela.twin.protocol import ABSENT, Channel, Criterion, Envelope, Topic, invalid_envelope

__all__ = [
    "MERGE_PATCH",
    "ack_envelope",
    "command_envelope",
    "error_envelope",
    "error_from_envelope",
    "event_envelope",
    "event_from_envelope",
    "event_json",
    "response_envelope",
    "string_headers",
]

JSON = Any
MERGE_PATCH = "application/merge-patch+json"
_NOT_ECHOED = frozenset({"if-match", "if-none-match", "condition", "if-equal", "requested-acks"})


def string_headers(headers: Mapping[str, JSON]) -> dict[str, str]:
    """Ditto headers as strings (non-string JSON values as their JSON text), names lower-cased."""
    return {k.lower(): v if isinstance(v, str) else json.dumps(v) for k, v in headers.items()}


def command_envelope(
    thing_id: str | None,
    action: str,
    path: str = "/",
    value: JSON = ABSENT,
    *,
    headers: Mapping[str, JSON] | None = None,
    fields: str | None = None,
    channel: Channel = Channel.TWIN,
) -> Envelope:
    """A thing command (`create`, `retrieve`, `modify`, `merge`, `delete`)."""
    hdrs = dict(headers or {})
    if action == "merge":
        hdrs.setdefault("content-type", MERGE_PATCH)
    return Envelope(Topic.for_thing(thing_id, Criterion.COMMANDS, action, channel), hdrs, path, value, fields)


def _echo(headers: Mapping[str, JSON]) -> dict[str, JSON]:
    return {k: v for k, v in headers.items() if k.lower() not in _NOT_ECHOED}


def response_envelope(
    command: Envelope, status: int, value: JSON = ABSENT, *, headers: Mapping[str, JSON] | None = None
) -> Envelope:
    """The response to `command`: same topic and path, its headers echoed (with `correlation-id`)."""
    hdrs = _echo(command.headers)
    hdrs.update(headers or {})
    return Envelope(command.topic, hdrs, command.path, value, status=status)


def error_envelope(
    error: TwinError,
    *,
    topic: Topic | None = None,
    headers: Mapping[str, JSON] | None = None,
) -> Envelope:
    """The error response for a failed command: `<ns>/<name>/things/<channel>/errors`, path `/`."""
    if topic is None:
        err_topic = Topic.for_thing(None, Criterion.ERRORS)
    elif topic.criterion is Criterion.SEARCH:
        err_topic = Topic(topic.namespace, topic.name, topic.group, Criterion.SEARCH, None, "errors")
    else:
        err_topic = topic.with_criterion(Criterion.ERRORS)
    return Envelope(err_topic, _echo(headers or {}), "/", error.to_json(), status=error.status)


def error_from_envelope(envelope: Envelope) -> TwinError:
    """The `TwinError` an error envelope describes."""
    status = envelope.status or 500
    return error_from_body(status, envelope.value, "The twin service reported an error.", code="unknown")


def _event_members(event: ThingEvent) -> tuple[dict[str, JSON], JSON, JSON, str | None]:
    """A twin event's headers, value, extra and timestamp as its Ditto Protocol message has them."""
    headers: dict[str, JSON] = dict(event.headers)
    if event.action == "merged":
        headers.setdefault("content-type", MERGE_PATCH)
    value = ABSENT if event.action == "deleted" else event.value
    extra = dict(event.extra) if event.extra is not None else ABSENT
    timestamp = to_iso(event.timestamp) if event.timestamp is not None else None
    return headers, value, extra, timestamp


def event_envelope(event: ThingEvent, channel: Channel = Channel.TWIN) -> Envelope:
    """The Ditto Protocol event of a `ThingEvent` (`<ns>/<name>/things/twin/events/<action>`)."""
    headers, value, extra, timestamp = _event_members(event)
    topic = Topic.for_thing(event.thing_id, Criterion.EVENTS, event.action, channel)
    return Envelope(
        topic, headers, event.path, value, extra=extra, revision=event.revision, timestamp=timestamp
    )


def event_json(event: ThingEvent) -> dict[str, JSON]:
    """`event_envelope(event).to_json()` of a twin event, built directly (topic texts are remembered)."""
    key = (event.thing_id, event.action)
    topic = _EVENT_TOPICS.get(key)
    if topic is None:
        topic = str(Topic.for_thing(event.thing_id, Criterion.EVENTS, event.action))
        if len(_EVENT_TOPICS) >= 65_536:
            _EVENT_TOPICS.clear()
        _EVENT_TOPICS[key] = topic
    headers, value, extra, timestamp = _event_members(event)
    out: dict[str, JSON] = {"topic": topic, "headers": headers, "path": event.path}
    if value is not ABSENT:
        out["value"] = value
    if extra is not ABSENT:
        out["extra"] = extra
    if event.revision is not None:
        out["revision"] = event.revision
    if timestamp is not None:
        out["timestamp"] = timestamp
    return out


_EVENT_TOPICS: dict[tuple[str, str], str] = {}


def event_from_envelope(envelope: Envelope) -> ThingEvent:
    """Decode a thing event envelope; raise `TwinError` 400 when it is not one."""
    topic = envelope.topic
    if topic is None or topic.criterion is not Criterion.EVENTS or topic.entity_id is None:
        msg = f"the message with topic '{topic}' is not a thing event"
        raise invalid_envelope(msg)
    return ThingEvent(
        thing_id=topic.entity_id,
        action=str(topic.action),
        path=envelope.path,
        value=None if envelope.value is ABSENT else envelope.value,
        revision=envelope.revision if envelope.revision is not None else 0,
        timestamp=from_iso(envelope.timestamp) if envelope.timestamp else None,
        headers=string_headers(envelope.headers),
        extra=envelope.extra if envelope.extra is not ABSENT else None,
    )


def ack_envelope(
    thing_id: str,
    label: str,
    status: int,
    *,
    correlation_id: str,
    value: JSON = ABSENT,
    channel: Channel = Channel.TWIN,
) -> Envelope:
    """An acknowledgement (`<ns>/<name>/things/twin/acks/<label>`), e.g. `twin-persisted`."""
    topic = Topic.for_thing(thing_id, Criterion.ACKS, label, channel)
    return Envelope(topic, {"correlation-id": correlation_id}, "/", value, status=status)
