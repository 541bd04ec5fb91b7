"""The fast decoder of the worker (`decode_change`) agrees with the strict codec, or declines."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from centinela.errors import TwinError
from centinela.ports import ThingEvent
from centinela.rules.event_codec import decode_change, decode_event
from centinela.rules.runtime import event_time
from centinela.twin.messages import event_envelope
from centinela.twin.protocol import encode

NOW = 1_800_000_000.0

headers = st.dictionaries(
    st.sampled_from(["correlation-id", "Centinela-Origin", "centinela-origin", "centinela-source-time",
                     "content-type", "x-any"]),
    st.one_of(st.sampled_from(["engine", "adapter", "1700000000123", "not-a-number", ""]),
              st.text(max_size=5)),
    max_size=4,
)
values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**40), 2**40),
              st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=8)),
    lambda inner: st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)
events = st.builds(
    ThingEvent,
    thing_id=st.sampled_from(["org.acme:well-1", "a.b.c:pump_7", "x:y:z"]),
    action=st.sampled_from(["created", "modified", "merged", "deleted"]),
    path=st.sampled_from(["/", "/features/pressure/properties/tubing", "/attributes"]),
    value=values,
    revision=st.integers(0, 10**6),
    timestamp=st.one_of(st.none(), st.floats(1e9, 2e9)),
    headers=headers,
    extra=st.one_of(st.none(),
                    st.dictionaries(st.sampled_from(["attributes", "definition"]), values, max_size=2)),
)


@settings(max_examples=300, deadline=None)
@given(events)
def test_the_fast_decoder_agrees_with_the_strict_codec(event: ThingEvent) -> None:
    data = encode(event_envelope(event)).encode()
    full = decode_event(data)
    change = decode_change(data)
    assert change is not None
    assert change.thing_id == full.thing_id
    assert change.action == full.action
    assert change.path == full.path
    assert change.value == full.value
    assert change.extra == full.extra
    assert change.own == (full.headers.get("centinela-origin") == "engine")
    resolved = NOW if change.time is None else change.time
    assert resolved == pytest.approx(event_time(full, NOW), abs=1e-6)


def _envelope(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "topic": "org.acme/well-1/things/twin/events/modified",
        "headers": {"correlation-id": "c-1"},
        "path": "/features/pressure/properties/tubing",
        "value": 1.5,
        "revision": 3,
        "timestamp": "2026-11-29T18:00:00Z",
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not _DROP}


_DROP = object()


@pytest.mark.parametrize(
    "changes",
    [
        {"headers": None},  # not an object: the strict codec says what is wrong
        {"headers": {"put-metadata": '[{"key":"/tubing","value":{"sourceTime":1}}]'}},  # per-property times
        {"headers": {"n": 1}},
        {"topic": "org.acme/well-1/things/twin/commands/modify"},
        {"topic": "_/_/things/twin/events/modified"},
        {"revision": True},
        {"timestamp": "yesterday"},
        {"path": "features"},
        {"status": 200},
        {"extra": [1]},
        {"value": float("inf")},  # `Infinity`: Python's json reads it, orjson does not
    ],
)
def test_unusual_events_are_left_to_the_strict_codec(changes: dict[str, Any]) -> None:
    data = json.dumps(_envelope(**changes)).encode()
    assert decode_change(data) is None
    try:
        event = decode_event(data)
    except TwinError as exc:
        assert exc.message  # the worker dead-letters the record with this reason
        return
    assert event.thing_id == "org.acme:well-1"


def test_not_json_is_left_to_the_strict_codec_which_refuses_it() -> None:
    assert decode_change(b"{not json") is None
    with pytest.raises(TwinError):
        decode_event(b"{not json")
    assert decode_change(json.dumps(_envelope(topic=_DROP)).encode()) is None
