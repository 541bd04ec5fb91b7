from __future__ import annotations

import pytest

from centinela.errors import TwinError
from centinela.ports import ThingEvent
from centinela.twin.messages import (
    ack_envelope,
    command_envelope,
    error_envelope,
    error_from_envelope,
    event_envelope,
    event_from_envelope,
    response_envelope,
)
from centinela.twin.protocol import ABSENT, Channel, Criterion, Envelope, Group, Kind, Topic, decode, encode


@pytest.mark.parametrize(
    ("text", "group", "channel", "criterion", "action", "entity"),
    [
        (
            "org.acme/pump-1/things/twin/commands/modify",
            "things",
            "twin",
            "commands",
            "modify",
            "org.acme:pump-1",
        ),
        (
            "org.acme/pump-1/things/live/commands/retrieve",
            "things",
            "live",
            "commands",
            "retrieve",
            "org.acme:pump-1",
        ),
        (
            "org.acme/pump-1/things/twin/events/merged",
            "things",
            "twin",
            "events",
            "merged",
            "org.acme:pump-1",
        ),
        ("org.acme/pump-1/things/twin/errors", "things", "twin", "errors", None, "org.acme:pump-1"),
        (
            "org.acme/pump-1/things/twin/acks/twin-persisted",
            "things",
            "twin",
            "acks",
            "twin-persisted",
            "org.acme:pump-1",
        ),
        (
            "org.acme/pump-1/things/live/messages/say/hello",
            "things",
            "live",
            "messages",
            "say/hello",
            "org.acme:pump-1",
        ),
        ("_/_/things/twin/search/subscribe", "things", "twin", "search", "subscribe", None),
        ("_/_/things/search/errors", "things", None, "search", "errors", None),
        ("org.acme/p/policies/commands/create", "policies", None, "commands", "create", "org.acme:p"),
        (
            "org.acme/p/policies/announcements/subjectDeletion",
            "policies",
            None,
            "announcements",
            "subjectDeletion",
            "org.acme:p",
        ),
        (
            "_/conn-1/connections/announcements/opened",
            "connections",
            None,
            "announcements",
            "opened",
            ":conn-1",
        ),
    ],
)
def test_topics_parse_and_print(
    text: str, group: str, channel: str | None, criterion: str, action: str | None, entity: str | None
) -> None:
    topic = Topic.parse(text)
    assert topic.group.value == group
    assert (topic.channel.value if topic.channel else None) == channel
    assert (topic.criterion.value, topic.action) == (criterion, action)
    assert topic.entity_id == entity
    assert str(topic) == text


@pytest.mark.parametrize(
    "text",
    [
        "org.acme/pump-1",
        "org.acme/pump-1/gadgets/twin/commands/modify",
        "org.acme/pump-1/things/twin/orders/modify",
        "org.acme/pump-1/things/twin/commands/explode",
        "org.acme/pump-1/things/twin/events/modify",
        "org.acme/pump-1/things/twin/commands",
        "org.acme/pump-1/things/twin/errors/extra",
        "org.acme/pump-1/policies/events/created",
        "//things/twin/commands/modify",
    ],
)
def test_bad_topics_are_400(text: str) -> None:
    with pytest.raises(TwinError) as info:
        Topic.parse(text)
    assert info.value.status == 400
    assert text in info.value.message


def test_for_thing_builds_topics() -> None:
    topic = Topic.for_thing("org.acme:pump-1", Criterion.COMMANDS, "merge")
    assert str(topic) == "org.acme/pump-1/things/twin/commands/merge"
    assert str(Topic.for_thing(None, Criterion.SEARCH, "next")) == "_/_/things/twin/search/next"
    assert Topic.for_thing("acme:x", Criterion.EVENTS, "created", Channel.LIVE).channel is Channel.LIVE


def test_envelope_keeps_absent_apart_from_null() -> None:
    with_null = decode(
        '{"topic":"a/b/things/twin/commands/merge","headers":{},"path":"/attributes/x","value":null}'
    )
    without = decode('{"topic":"a/b/things/twin/commands/delete","headers":{},"path":"/attributes/x"}')
    assert with_null.value is None
    assert without.value is ABSENT
    assert "value" in with_null.to_json() and "value" not in without.to_json()
    assert decode(encode(with_null)) == with_null


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("not json", "not valid JSON"),
        ("[1]", "not a JSON object"),
        ('{"topic":"a/b/things/twin/commands/modify","headers":[],"path":"/"}', "'headers'"),
        ('{"topic":"a/b/things/twin/commands/modify","headers":{},"path":3}', "'path'"),
        ('{"topic":"a/b/things/twin/commands/modify","headers":{},"path":"/","status":"200"}', "'status'"),
        ('{"topic":"a/b/things/twin/commands/modify","headers":{},"path":"/","bogus":1}', "bogus"),
    ],
)
def test_malformed_envelopes_are_400(text: str, fragment: str) -> None:
    with pytest.raises(TwinError) as info:
        decode(text)
    assert info.value.status == 400
    assert fragment in info.value.message


def test_kinds() -> None:
    command = command_envelope("acme:a", "modify", "/attributes/x", 1, headers={"correlation-id": "c"})
    assert command.kind is Kind.COMMAND
    assert response_envelope(command, 204).kind is Kind.RESPONSE
    assert error_envelope(TwinError(404, "x", "y"), topic=command.topic).kind is Kind.ERROR
    assert ack_envelope("acme:a", "twin-persisted", 200, correlation_id="c").kind is Kind.ACK
    assert Envelope(Topic.parse("_/_/things/twin/search/next")).kind is Kind.SEARCH
    assert Envelope(Topic.parse("_/_/things/search/errors")).kind is Kind.ERROR


def test_response_echoes_correlation_but_not_conditions() -> None:
    command = command_envelope(
        "acme:a", "merge", "/", {"a": 1}, headers={"correlation-id": "c-9", "if-match": "*", "x-custom": "k"}
    )
    assert command.headers["content-type"] == "application/merge-patch+json"
    response = response_envelope(command, 204, headers={"etag": '"rev:2"'})
    assert response.topic == command.topic
    assert response.headers["correlation-id"] == "c-9"
    assert response.headers["x-custom"] == "k"
    assert "if-match" not in response.headers
    assert response.to_json()["status"] == 204 and "value" not in response.to_json()


def test_error_envelope_round_trips_the_error() -> None:
    command = command_envelope("acme:a", "retrieve", "/features/f", headers={"correlation-id": "c"})
    error = TwinError(404, "things:feature.notfound", "The Feature 'f' is missing.", "Check it.")
    envelope = error_envelope(error, topic=command.topic, headers=command.headers)
    assert str(envelope.topic) == "acme/a/things/twin/errors"
    assert (envelope.path, envelope.status, envelope.headers["correlation-id"]) == ("/", 404, "c")
    again = error_from_envelope(decode(encode(envelope)))
    assert again.to_json() == error.to_json()
    search = error_envelope(error, topic=Topic.parse("_/_/things/twin/search/subscribe"))
    assert str(search.topic) == "_/_/things/search/errors"


def test_events_round_trip_through_envelopes() -> None:
    event = ThingEvent(
        thing_id="org.acme:pump-1",
        action="merged",
        path="/features/p/properties",
        value={"v": 1, "w": None},
        revision=5,
        timestamp=1_700_000_000.25,
        headers={"correlation-id": "c", "centinela-origin": "engine"},
        extra={"attributes": {"site": "n"}},
    )
    envelope = event_envelope(event)
    assert str(envelope.topic) == "org.acme/pump-1/things/twin/events/merged"
    assert envelope.timestamp == "2023-11-14T22:13:20.250000Z"
    assert envelope.headers["content-type"] == "application/merge-patch+json"
    back = event_from_envelope(decode(encode(envelope)))
    assert back.value == event.value and back.extra == event.extra
    assert (back.thing_id, back.action, back.path, back.revision, back.timestamp) == (
        event.thing_id,
        event.action,
        event.path,
        event.revision,
        event.timestamp,
    )
    assert back.headers["centinela-origin"] == "engine"
    deleted = event_envelope(ThingEvent("acme:a", "deleted", "/", None, 3))
    assert "value" not in deleted.to_json()
    with pytest.raises(TwinError):
        event_from_envelope(command_envelope("acme:a", "retrieve"))


def test_group_enum_values() -> None:
    assert {g.value for g in Group} == {"things", "policies", "connections"}


@pytest.mark.parametrize("action", ["created", "modified", "merged", "deleted"])
@pytest.mark.parametrize("extra", [None, {"attributes": {"kind": "well"}}])
@pytest.mark.parametrize("timestamp", [None, 1_700_000_000.123456])
def test_event_json_is_the_event_envelopes_json(
    action: str, extra: dict[str, object] | None, timestamp: float | None
) -> None:
    from centinela.twin.messages import event_envelope, event_json

    for thing in ("org.acme:well-1", ":no-namespace"):
        event = ThingEvent(thing, action, "/features/p/properties/tubing", {"v": 1.5}, 7, timestamp,
                           {"correlation-id": "c-9", "centinela-origin": "engine"}, extra)
        assert event_json(event) == event_envelope(event).to_json()
        assert list(event_json(event)) == list(event_envelope(event).to_json())  # Ditto's member order
