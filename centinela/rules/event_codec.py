"""Decoding twin events from Kafka records: a fast path for the common Ditto event shape, else the full codec.

Ditto's twin events on `twin.events` are small JSON objects whose topic is
`<namespace>/<name>/things/twin/events/<action>`. For those, `decode_event` builds the `ThingEvent`
straight from `json.loads`; anything else (other members, other topics, non-string headers, bad
JSON) goes through `centinela.twin.protocol.decode` and `event_from_envelope`, which accept exactly
what Ditto Protocol allows and raise `TwinError` naming what is wrong.
"""

from __future__ import annotations

import json
from typing import Any

from centinela.ports import ThingEvent
from centinela.twin.messages import event_from_envelope
from centinela.twin.model import from_iso
from centinela.twin.protocol import decode

__all__ = ["decode_event"]

_MEMBERS = frozenset({"topic", "headers", "path", "value", "revision", "timestamp", "extra"})
_ACTIONS = frozenset({"created", "modified", "merged", "deleted"})


def decode_event(data: bytes) -> ThingEvent:
    """The twin event in a record's value; raise `TwinError` when it is not a Ditto twin event."""
    try:
        obj = json.loads(data)
    except ValueError:
        obj = None
    event = _fast(obj) if isinstance(obj, dict) else None
    return event if event is not None else event_from_envelope(decode(data))


def _fast(obj: dict[str, Any]) -> ThingEvent | None:
    if not _MEMBERS.issuperset(obj):
        return None
    topic = obj.get("topic")
    if not isinstance(topic, str):
        return None
    parts = topic.split("/")
    if (
        len(parts) != 6
        or parts[2] != "things"
        or parts[3] != "twin"
        or parts[4] != "events"
        or parts[5] not in _ACTIONS
        or not parts[0]
        or not parts[1]
        or "_" in (parts[0], parts[1])
    ):
        return None
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
        thing_id=f"{parts[0]}:{parts[1]}",
        action=parts[5],
        path=path,
        value=None if parts[5] == "deleted" else obj.get("value"),
        revision=revision,
        timestamp=when,
        headers={k.lower(): v for k, v in headers.items()},
        extra=extra,
    )
