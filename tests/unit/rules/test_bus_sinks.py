"""The Kafka worker's sinks write what the Ditto Protocol codec writes: merge commands and alarm JSON."""

from __future__ import annotations

import json
from typing import Any

import pytest

from centinela.infra.memory_bus import MemoryBus
from centinela.rules.bus_sinks import AlarmSink, CommandSink, merge_command
from centinela.rules.output import AlarmEvent, StepOutput
from centinela.twin.messages import command_envelope
from centinela.twin.protocol import decode, encode


@pytest.mark.parametrize("thing", ["org.acme:well-1", ":no-namespace", "a.b:c:d"])
def test_merge_command_is_the_codecs_merge_command(thing: str) -> None:
    patch: dict[str, Any] = {"features": {"computed": {"properties": {"double": 2.5, "ok": True, "n": None}}},
                             "attributes": {"é": "ü", "big": 2**70}}
    ours = merge_command(thing, patch)
    reference = encode(command_envelope(thing, "merge", "/", patch, headers={"centinela-origin": "engine"}))
    assert json.loads(ours) == json.loads(reference)
    assert decode(ours) == decode(reference.encode())


async def test_sinks_publish_one_merge_per_thing_and_sorted_alarm_json() -> None:
    bus = MemoryBus()
    consumer = await bus.consumer(["twin.commands", "site1.alarms.critical"], group="g")
    out = StepOutput()
    out.patch("org.acme:w1", "/features/computed/properties/double", 4.0)
    out.patch("org.acme:w1", "/features/computed/properties/half", 1.0)
    out.patch("org.acme:w2", "/features/computed/properties/double", 6.0)
    alarm = AlarmEvent("id-1", 10.0, "High", "org.acme:w1", "Well", "critical", "NORMAL", "ACTIVE",
                       "condition", True, False, False, float("nan"), "high", "x > 1", (), "v1")
    out.alarms.append(alarm)
    await CommandSink(bus).emit(out)
    await AlarmSink(bus, "site1.").emit(out)
    records = await consumer.getmany(timeout=0.1)
    commands = [r for r in records if r.topic == "twin.commands"]
    assert [r.key for r in commands] == ["org.acme:w1", "org.acme:w2"]
    assert json.loads(commands[0].value)["value"] == {
        "features": {"computed": {"properties": {"double": 4.0, "half": 1.0}}}
    }
    assert all(("centinela-origin", b"engine") in r.headers for r in commands)
    [alarm_record] = [r for r in records if r.topic == "site1.alarms.critical"]
    body = json.loads(alarm_record.value)
    assert list(body) == sorted(body)
    assert body["id"] == "id-1"
    assert body["value"] is None  # NaN is not JSON
