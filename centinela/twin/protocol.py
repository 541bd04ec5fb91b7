"""Ditto Protocol codec: topics and envelopes for commands, responses, events, errors, acks, search."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from centinela.errors import TwinError
from centinela.twin.errors import invalid_json

__all__ = [
    "ABSENT",
    "COMMAND_ACTIONS",
    "EVENT_ACTIONS",
    "SEARCH_ACTIONS",
    "Channel",
    "Criterion",
    "Envelope",
    "Group",
    "Kind",
    "Topic",
    "decode",
    "dumps",
    "encode",
    "invalid_envelope",
    "invalid_topic",
]

JSON = Any


class _Absent:
    __slots__ = ()

    def __repr__(self) -> str:
        return "ABSENT"

    def __bool__(self) -> bool:
        return False


ABSENT: Any = _Absent()
"""An envelope member that is not there (distinct from a JSON `null`)."""


class Group(Enum):
    THINGS = "things"
    POLICIES = "policies"
    CONNECTIONS = "connections"


class Channel(Enum):
    TWIN = "twin"
    LIVE = "live"


class Criterion(Enum):
    COMMANDS = "commands"
    EVENTS = "events"
    SEARCH = "search"
    MESSAGES = "messages"
    ERRORS = "errors"
    ACKS = "acks"
    ANNOUNCEMENTS = "announcements"
    STREAMING = "streaming"


class Kind(Enum):
    """What an envelope is, from its topic and whether it has a status."""

    COMMAND = "command"
    RESPONSE = "response"
    EVENT = "event"
    ERROR = "error"
    ACK = "ack"
    SEARCH = "search"
    MESSAGE = "message"
    ANNOUNCEMENT = "announcement"
    STREAMING = "streaming"


COMMAND_ACTIONS = frozenset({"create", "retrieve", "modify", "merge", "delete"})
EVENT_ACTIONS = frozenset({"created", "modified", "merged", "deleted"})
SEARCH_ACTIONS = frozenset(
    {"subscribe", "request", "cancel", "created", "next", "complete", "failed", "errors"}
)
"""Search protocol actions; `errors` is Ditto's answer to a rejected search (`_/_/things/search/errors`)."""
_NEEDS_ACTION = {
    Criterion.COMMANDS: COMMAND_ACTIONS,
    Criterion.EVENTS: EVENT_ACTIONS,
    Criterion.SEARCH: SEARCH_ACTIONS,
}
_CRITERIA = {
    Group.THINGS: frozenset(Criterion),
    Group.POLICIES: frozenset({Criterion.COMMANDS, Criterion.ERRORS, Criterion.ANNOUNCEMENTS}),
    Group.CONNECTIONS: frozenset({Criterion.ANNOUNCEMENTS, Criterion.ERRORS}),
}


def invalid_topic(topic: object, reason: str) -> TwinError:
    return TwinError(
        400,
        "things:topic.invalid",
        f"The Ditto Protocol topic '{topic}' is not valid: {reason}.",
        "A topic reads '<namespace>/<name>/things/<twin|live>/<criterion>[/<action>]', "
        "'<namespace>/<name>/policies/<criterion>[/<action>]' or '_/_/things/twin/search/<action>'.",
    )


def invalid_envelope(reason: str) -> TwinError:
    return TwinError(
        400,
        "things:protocol.invalid",
        f"The Ditto Protocol message is not valid: {reason}.",
        "A message is a JSON object with 'topic', 'headers' and 'path', and optionally 'value', "
        "'fields', 'extra', 'status', 'revision' and 'timestamp'.",
    )


@dataclass(frozen=True, slots=True)
class Topic:
    """A parsed topic: `org.acme/pump-1/things/twin/commands/modify` and the like."""

    namespace: str
    name: str
    group: Group
    criterion: Criterion
    channel: Channel | None = None
    action: str | None = None

    @property
    def entity_id(self) -> str | None:
        """`namespace:name`, or `None` for the wildcard `_/_` (search, multi-thing retrieve)."""
        if self.name == "_" and self.namespace == "_":
            return None
        return f"{'' if self.namespace == '_' else self.namespace}:{self.name}"

    def __str__(self) -> str:
        parts = [self.namespace, self.name, self.group.value]
        if self.channel is not None:
            parts.append(self.channel.value)
        parts.append(self.criterion.value)
        if self.action is not None:
            parts.append(self.action)
        return "/".join(parts)

    def with_criterion(self, criterion: Criterion, action: str | None = None) -> Topic:
        return Topic(self.namespace, self.name, self.group, criterion, self.channel, action)

    @classmethod
    def for_thing(
        cls,
        thing_id: str | None,
        criterion: Criterion,
        action: str | None = None,
        channel: Channel = Channel.TWIN,
    ) -> Topic:
        """The topic of a thing (`None` for `_/_`); an empty namespace is written `_`."""
        if thing_id is None:
            namespace, name = "_", "_"
        else:
            namespace, _, name = thing_id.partition(":")
        return cls(namespace or "_", name, Group.THINGS, criterion, channel, action)

    @classmethod
    def parse(cls, text: str) -> Topic:
        """Parse a topic; raise `TwinError` 400 naming what is wrong.

        Topics repeat (one per thing and action): valid ones are remembered, up to `_PARSED_MAX`.
        """
        if type(text) is str:
            known = _PARSED.get(text)
            if known is not None:
                return known
        topic = cls._parse(text)
        if len(_PARSED) >= _PARSED_MAX:
            _PARSED.clear()
        _PARSED[text] = topic
        return topic

    @classmethod
    def _parse(cls, text: str) -> Topic:
        if not isinstance(text, str):
            raise invalid_topic(text, "it is not a string")
        parts = text.split("/")
        if len(parts) < 4 or not parts[0] or not parts[1]:
            raise invalid_topic(text, "it needs at least '<namespace>/<name>/<group>/<criterion>'")
        namespace, name, group_text = parts[0], parts[1], parts[2]
        try:
            group = Group(group_text)
        except ValueError:
            raise invalid_topic(
                text, f"the group '{group_text}' is not things, policies or connections"
            ) from None
        rest = parts[3:]
        channel: Channel | None = None
        if group is Group.THINGS and rest[0] in ("twin", "live"):
            channel = Channel(rest[0])
            rest = rest[1:]
        if not rest:
            raise invalid_topic(text, "the criterion is missing")
        try:
            criterion = Criterion(rest[0])
        except ValueError:
            raise invalid_topic(text, f"the criterion '{rest[0]}' is unknown") from None
        if criterion not in _CRITERIA[group]:
            raise invalid_topic(text, f"the criterion '{criterion.value}' does not exist for {group.value}")
        action = "/".join(rest[1:]) if len(rest) > 1 else None
        if criterion is Criterion.ERRORS and action is not None:
            raise invalid_topic(text, "an error topic has no action")
        if criterion is not Criterion.ERRORS and not action:
            raise invalid_topic(text, f"the {criterion.value} topic needs an action")
        allowed = _NEEDS_ACTION.get(criterion)
        if allowed is not None and group is Group.THINGS and action not in allowed:
            raise invalid_topic(text, f"'{action}' is not one of {', '.join(sorted(allowed))}")
        if criterion is not Criterion.MESSAGES and action is not None and "/" in action:
            raise invalid_topic(text, f"the action '{action}' must not contain '/'")
        return cls(namespace, name, group, criterion, channel, action)


_PARSED: dict[str, Topic] = {}
_PARSED_MAX = 65_536

_MEMBERS = (
    "topic",
    "headers",
    "path",
    "value",
    "fields",
    "extra",
    "status",
    "revision",
    "timestamp",
    "metadata",
)


@dataclass(frozen=True, slots=True)
class Envelope:
    """One Ditto Protocol message. Absent members are `ABSENT` (`value`, `extra`, `metadata`) or `None`."""

    topic: Topic | None
    headers: Mapping[str, JSON] = field(default_factory=dict)
    path: str = "/"
    value: JSON = ABSENT
    fields: str | None = None
    extra: JSON = ABSENT
    status: int | None = None
    revision: int | None = None
    timestamp: str | None = None
    metadata: JSON = ABSENT

    @property
    def kind(self) -> Kind:
        criterion = self.topic.criterion if self.topic is not None else Criterion.COMMANDS
        if criterion is Criterion.COMMANDS:
            return Kind.RESPONSE if self.status is not None else Kind.COMMAND
        if criterion is Criterion.SEARCH and self.topic is not None and self.topic.action == "errors":
            return Kind.ERROR
        return {
            Criterion.EVENTS: Kind.EVENT,
            Criterion.ERRORS: Kind.ERROR,
            Criterion.ACKS: Kind.ACK,
            Criterion.SEARCH: Kind.SEARCH,
            Criterion.MESSAGES: Kind.MESSAGE,
            Criterion.ANNOUNCEMENTS: Kind.ANNOUNCEMENT,
            Criterion.STREAMING: Kind.STREAMING,
        }[criterion]

    @property
    def correlation_id(self) -> str | None:
        value = self.headers.get("correlation-id")
        return value if isinstance(value, str) else None

    def to_json(self) -> dict[str, JSON]:
        """The JSON object of this message, members in Ditto's order, absent ones left out."""
        out: dict[str, JSON] = {}
        if self.topic is not None:
            out["topic"] = str(self.topic)
        out["headers"] = dict(self.headers)
        out["path"] = self.path
        if self.value is not ABSENT:
            out["value"] = self.value
        if self.fields is not None:
            out["fields"] = self.fields
        if self.extra is not ABSENT:
            out["extra"] = self.extra
        if self.status is not None:
            out["status"] = self.status
        if self.revision is not None:
            out["revision"] = self.revision
        if self.timestamp is not None:
            out["timestamp"] = self.timestamp
        if self.metadata is not ABSENT:
            out["metadata"] = self.metadata
        return out

    @classmethod
    def from_json(cls, obj: JSON) -> Envelope:
        """Decode a JSON object; raise `TwinError` 400 naming the member that is wrong."""
        if not isinstance(obj, dict):
            msg = f"it is a {type(obj).__name__}, not a JSON object"
            raise invalid_envelope(msg)
        unknown = sorted(set(obj) - set(_MEMBERS))
        if unknown:
            msg = f"the member(s) {', '.join(unknown)} are unknown"
            raise invalid_envelope(msg)
        topic = Topic.parse(obj["topic"]) if "topic" in obj else None
        headers = obj.get("headers", {})
        if not isinstance(headers, dict):
            msg = "'headers' must be a JSON object"
            raise invalid_envelope(msg)
        path = obj.get("path", "/")
        if not isinstance(path, str):
            msg = "'path' must be a string"
            raise invalid_envelope(msg)
        fields = obj.get("fields")
        if fields is not None and not isinstance(fields, str):
            msg = "'fields' must be a string"
            raise invalid_envelope(msg)
        status = obj.get("status")
        if status is not None and (not isinstance(status, int) or isinstance(status, bool)):
            msg = "'status' must be an integer"
            raise invalid_envelope(msg)
        revision = obj.get("revision")
        if revision is not None and (not isinstance(revision, int) or isinstance(revision, bool)):
            msg = "'revision' must be an integer"
            raise invalid_envelope(msg)
        timestamp = obj.get("timestamp")
        if timestamp is not None and not isinstance(timestamp, str):
            msg = "'timestamp' must be a string"
            raise invalid_envelope(msg)
        extra = obj.get("extra", ABSENT)
        if extra is not ABSENT and not isinstance(extra, dict):
            msg = "'extra' must be a JSON object"
            raise invalid_envelope(msg)
        return cls(
            topic=topic,
            headers=headers,
            path=path,
            value=obj.get("value", ABSENT),
            fields=fields,
            extra=extra,
            status=status,
            revision=revision,
            timestamp=timestamp,
            metadata=obj.get("metadata", ABSENT),
        )


def decode(data: str | bytes) -> Envelope:
    """Parse a Ditto Protocol message from its JSON text."""
    try:
        obj = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        msg = f"The Ditto Protocol message is not valid JSON: {exc}."
        raise invalid_json(msg) from exc
    return Envelope.from_json(obj)


def encode(envelope: Envelope) -> str:
    """The JSON text of a Ditto Protocol message."""
    return dumps(envelope.to_json())


def dumps(message: JSON) -> str:
    """The JSON text of a Ditto Protocol message already in its JSON form (compact, UTF-8 kept)."""
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)
