"""Decoding twin events from Kafka records: a fast path for the common Ditto event shape, else the full codec.

Ditto's twin events on `twin.events` are small JSON objects whose topic is
`<namespace>/<name>/things/twin/events/<action>`. For those, `decode_event` builds the `ThingEvent`
straight from the parsed JSON (orjson when installed), and `decode_change` returns just what an
engine worker needs (a `Change`: no header dict, the event time resolved). Anything else (other
members, other topics, non-string headers, bad JSON; for `decode_change` also a `put-metadata`
header) is left to the full codec: `centinela.twin.protocol.decode` and `event_from_envelope`,
which accept exactly what Ditto Protocol allows and raise `TwinError` naming what is wrong.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, NamedTuple

from centinela.errors import TwinError
from centinela.ports import ThingEvent
from centinela.rules.runtime import SOURCE_TIME_HEADER
from centinela.rules.sinks import ORIGIN_HEADER
from centinela.twin.messages import event_from_envelope
from centinela.twin.model import from_iso
from centinela.twin.protocol import decode

_loads: Callable[[bytes], Any]
try:
    from orjson import loads as _loads
except ImportError:  # pragma: no cover - orjson is part of the `kafka` extra
    _loads = json.loads

__all__ = ["Change", "decode_change", "decode_event"]

_MEMBERS = frozenset({"topic", "headers", "path", "value", "revision", "timestamp", "extra"})
_ACTIONS = frozenset({"created", "modified", "merged", "deleted"})
_NO_HEADERS: dict[str, str] = {}
_TOPICS: dict[str, tuple[str, str]] = {}


class Change(NamedTuple):
    """The parts of a twin event an engine worker applies (see `decode_change`)."""

    thing_id: str
    action: str
    path: str
    value: Any
    time: float | None
    """The source time header (epoch ms → s), else the event's timestamp; None: neither."""
    extra: dict[str, Any] | None
    own: bool
    """Written by the engine itself (`centinela-origin: engine`)."""


def _parse(data: bytes) -> Any:
    try:
        return _loads(data)
    except (ValueError, TypeError):  # orjson's JSONDecodeError is a ValueError
        return None


def decode_event(data: bytes) -> ThingEvent:
    """The twin event in a record's value; raise `TwinError` when it is not a Ditto twin event."""
    obj = _parse(data)
    event = _fast(obj) if isinstance(obj, dict) else None
    if event is not None:
        return event
    envelope = decode(data)
    try:
        return event_from_envelope(envelope)
    except ValueError as exc:  # e.g. a timestamp that is not ISO 8601
        msg = f"The twin event {envelope.topic} cannot be read: {exc}."
        raise TwinError(400, "things:event.invalid", msg) from exc


def decode_change(data: bytes) -> Change | None:
    """The common twin event as a `Change`, or None: then use `decode_event` (which may raise)."""
    obj = _parse(data)
    if type(obj) is not dict or not _MEMBERS.issuperset(obj):
        return None
    topic = obj.get("topic")
    if type(topic) is not str:
        return None
    known = _TOPICS.get(topic)
    if known is None:
        known = _event_topic(topic)
        if known is None:
            return None
    thing_id, action = known
    own = False
    source: str | None = None
    headers = obj.get("headers", _NO_HEADERS)
    if type(headers) is not dict:
        return None
    if headers:
        for name, value in headers.items():
            if type(value) is not str:
                return None
            low = name.lower()
            if low == ORIGIN_HEADER:
                own = value == "engine"
            elif low == SOURCE_TIME_HEADER:
                source = value
            elif low == "put-metadata":
                return None  # per-property source times: the full path reads them
    path = obj.get("path", "/")
    revision = obj.get("revision", 0)
    timestamp = obj.get("timestamp")
    extra = obj.get("extra")
    if (
        type(path) is not str
        or not path.startswith("/")
        or type(revision) is not int
        or (timestamp is not None and type(timestamp) is not str)
        or (extra is not None and type(extra) is not dict)
    ):
        return None
    try:
        when = from_iso(timestamp) if timestamp else None
    except ValueError:
        return None
    if source is not None:
        try:
            when = float(source) / 1000.0
        except ValueError:
            pass
    return Change(thing_id, action, path, None if action == "deleted" else obj.get("value"), when, extra, own)


def _event_topic(topic: str) -> tuple[str, str] | None:
    """(thing id, action) of a twin event topic `<namespace>/<name>/things/twin/events/<action>`."""
    parts = topic.split("/")
    if (
        len(parts) != 6
        or parts[2] != "things"
        or parts[3] != "twin"
        or parts[4] != "events"
        or parts[5] not in _ACTIONS
        or not parts[0]
        or not parts[1]
        or parts[0] == "_"
        or parts[1] == "_"
    ):
        return None
    known = (f"{parts[0]}:{parts[1]}", parts[5])
    if len(_TOPICS) < 100_000:  # one per thing and action: bounded like the fleet
        _TOPICS[topic] = known
    return known


def _fast(obj: dict[str, Any]) -> ThingEvent | None:
    if not _MEMBERS.issuperset(obj):
        return None
    topic = obj.get("topic")
    if not isinstance(topic, str):
        return None
    known = _TOPICS.get(topic) or _event_topic(topic)
    if known is None:
        return None
    thing_id, action = known
    headers = obj.get("headers", {})
    path = obj.get("path", "/")
    revision = obj.get("revision", 0)
    timestamp = obj.get("timestamp")
    extra = obj.get("extra")
    if (
        not isinstance(headers, dict)
        or not all(isinstance(v, str) for v in headers.values())
        or not isinstance(path, str)
        or not path.startswith("/")
        or not isinstance(revision, int)
        or isinstance(revision, bool)
        or (timestamp is not None and not isinstance(timestamp, str))
        or (extra is not None and not isinstance(extra, dict))
    ):
        return None
    try:
        when = from_iso(timestamp) if timestamp else None
    except ValueError:
        return None
    return ThingEvent(
        thing_id=thing_id,
        action=action,
        path=path,
        value=None if action == "deleted" else obj.get("value"),
        revision=revision,
        timestamp=when,
        headers={k.lower(): v for k, v in headers.items()},
        extra=extra,
    )
