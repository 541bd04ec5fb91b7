"""The Kafka connectivity stand-in on the in-process bus: commands in, events out, bad records to the DLQ."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from centinela.errors import ConfigError
from centinela.infra.dlq import read_dead_letter
from centinela.infra.memory_bus import MemoryBus
from centinela.ports import Record
from centinela.twin.connectivity import KafkaConnectivity, load_connection
from centinela.twin.messages import command_envelope
from centinela.twin.protocol import decode, encode
from centinela.twin.store import EmbeddedTwinStore

CONNECTION = Path(__file__).resolve().parents[3] / "compose" / "ditto" / "connection-kafka.json"
THING = "org.acme:well-1"


@pytest.fixture
async def pipeline() -> AsyncIterator[tuple[MemoryBus, EmbeddedTwinStore, KafkaConnectivity]]:
    bus = MemoryBus()
    store = await EmbeddedTwinStore().open()
    async with KafkaConnectivity(load_connection(CONNECTION), bus, store) as connectivity:
        yield bus, store, connectivity
    await store.aclose()


def _command(action: str, path: str, value: object, thing: str = THING, **headers: str) -> bytes:
    return encode(command_envelope(thing, action, path, value, headers=headers)).encode()


async def _wait_for(bus: MemoryBus, topic: str, count: int) -> list[Record]:
    for _ in range(200):
        records = bus.records(topic)
        if len(records) >= count:
            return records
        await asyncio.sleep(0.01)
    pytest.fail(f"{topic} has {len(bus.records(topic))} records, expected {count}")


async def test_commands_update_the_twin_and_events_are_keyed_by_thing(
    pipeline: tuple[MemoryBus, EmbeddedTwinStore, KafkaConnectivity],
) -> None:
    bus, store, connectivity = pipeline
    thing = {"attributes": {"field": "north"}, "features": {"p": {"properties": {"tubing": 2900.0}}}}
    await bus.publish("telemetry.raw", THING, _command("create", "/", thing, **{"correlation-id": "c-1"}))
    await bus.publish("twin.commands", THING, _command("merge", "/features/p/properties", {"tubing": 3100.0},
                                                       **{"centinela-origin": "engine"}))
    events = await _wait_for(bus, "twin.events", 2)
    assert [r.key for r in events] == [THING, THING]
    decoded = [decode(r.value) for r in events]
    assert [str(e.topic) for e in decoded] == [
        "org.acme/well-1/things/twin/events/created",
        "org.acme/well-1/things/twin/events/merged",
    ]
    assert dict(events[0].headers)["correlation-id"] == b"c-1"
    assert dict(events[1].headers)["centinela-origin"] == b"engine"  # the engine recognises its writes
    assert await store.retrieve(THING, "/features/p/properties/tubing") == 3100.0
    assert (connectivity.applied, connectivity.dead_lettered) == (2, 0)
    # Offsets are committed once the commands are applied (when the stream pauses, or every second).
    for _ in range(300):
        if bus.committed("ditto-connectivity-centinela-kafka", "telemetry.raw") == 1:
            break
        await asyncio.sleep(0.01)
    assert bus.committed("ditto-connectivity-centinela-kafka", "telemetry.raw") == 1


async def test_bad_records_go_to_the_dead_letter_topic_with_the_reason(
    pipeline: tuple[MemoryBus, EmbeddedTwinStore, KafkaConnectivity],
) -> None:
    bus, store, connectivity = pipeline
    await bus.publish("telemetry.raw", THING, b"{not json")
    await bus.publish("telemetry.raw", "org.acme:other", _command("create", "/", {}))  # key != thing
    await bus.publish("telemetry.raw", THING, _command("modify", "/attributes/x", 1))  # no such thing
    letters = await _wait_for(bus, "telemetry.raw.dlq", 3)
    reasons = [read_dead_letter(r).reason for r in letters]
    assert "is not a Ditto Protocol message" in reasons[0]
    assert "fails enforcement" in reasons[1] and "'org.acme:other'" in reasons[1]
    assert "refused" in reasons[2] and "things:thing.notfound" in reasons[2]
    assert [r.value for r in letters][0] == b"{not json"
    assert connectivity.dead_lettered == 3 and connectivity.applied == 0
    assert [t async for t in store.search()] == []


def test_connections_the_stand_in_cannot_honour_are_refused() -> None:
    data = json.loads(CONNECTION.read_text())
    data["connectionType"] = "mqtt"
    with pytest.raises(ConfigError, match="connectionType 'mqtt' is not supported"):
        load_connection(data)
    data = json.loads(CONNECTION.read_text())
    data["targets"][0]["address"] = "twin.events/{{ feature:id }}"
    with pytest.raises(ConfigError, match="feature:id"):
        load_connection(data)
    data = json.loads(CONNECTION.read_text())
    data["sources"][0]["payloadMapping"] = ["JavaScript"]
    with pytest.raises(ConfigError, match="payloadMapping"):
        load_connection(data)


async def test_offsets_are_committed_every_interval_or_on_close_and_dead_letters_first() -> None:
    bus = MemoryBus()
    store = await EmbeddedTwinStore().open()
    group = "ditto-connectivity-centinela-kafka"
    # A long poll and a long interval: no pause and no interval passes while we look.
    connectivity = KafkaConnectivity(load_connection(CONNECTION), bus, store, poll_seconds=30.0,
                                     commit_seconds=60.0)
    try:
        async with connectivity:
            await bus.publish("telemetry.raw", THING, _command("create", "/", {"attributes": {"a": 1}}))
            await bus.publish("telemetry.raw", THING, b"{not json")
            await bus.publish("telemetry.raw", THING, _command("modify", "/attributes/a", 2))
            await _wait_for(bus, "twin.events", 2)
            for _ in range(200):
                if connectivity.applied == 2 and connectivity.dead_lettered == 1:
                    break
                await asyncio.sleep(0.01)
            assert (connectivity.applied, connectivity.dead_lettered) == (2, 1)
            assert bus.committed(group, "telemetry.raw") == 0  # not yet: no pause, no interval
        # Closing commits what was applied; the dead letter is there too.
        assert bus.committed(group, "telemetry.raw") == 3
        assert [r.value for r in bus.records("telemetry.raw.dlq")] == [b"{not json"]
    finally:
        await store.aclose()


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("twin.events/{{ thing:id }}", "twin.events/org.acme:well-1"),
        ("{{thing:namespace}}|{{ thing:name }}|{{ entity:id }}", "org.acme|well-1|org.acme:well-1"),
        ("{{ header:kafka.key }}", "org.acme:well-1"),
        ("application/vnd.eclipse.ditto+json", "application/vnd.eclipse.ditto+json"),
        ("", ""),
        ("by {{ header:absent }}", None),
    ],
)
def test_templates_fill_from_the_thing_and_the_headers(template: str, expected: str | None) -> None:
    from centinela.twin.connectivity.config import compile_template, resolve

    headers = {"kafka.key": THING}
    assert compile_template(template)(THING, headers) == expected
    assert resolve(template, THING, headers) == expected
    assert resolve(template, None, {}) == (expected if "{{" not in template else None)


async def test_a_connection_with_freeze_gc_freezes_while_open_and_thaws_on_close() -> None:
    import gc

    bus = MemoryBus()
    store = await EmbeddedTwinStore().open()
    async with KafkaConnectivity(load_connection(CONNECTION), bus, store, freeze_gc=True) as connectivity:
        assert gc.get_freeze_count() > 0
        await bus.publish("telemetry.raw", THING, _command("create", "/", {"attributes": {"a": 1}}))
        await _wait_for(bus, "twin.events", 1)
        assert connectivity.applied == 1
    assert gc.get_freeze_count() == 0
    await store.aclose()


async def test_events_keep_flowing_while_the_broker_has_not_acknowledged_the_last_ones() -> None:
    class UnacknowledgingBus(MemoryBus):
        """A bus whose acknowledgement never comes until released."""

        def __init__(self) -> None:
            super().__init__()
            self.released = asyncio.Event()
            self.flushes = 0

        async def flush(self) -> None:
            self.flushes += 1
            await self.released.wait()

    bus = UnacknowledgingBus()
    store = await EmbeddedTwinStore().open()
    connection = KafkaConnectivity(
        load_connection(CONNECTION), bus, store, flush_seconds=0.0, commit_seconds=60
    )
    async with connection:
        try:
            await bus.publish("telemetry.raw", THING, _command("create", "/", {"attributes": {"a": 1}}))
            await _wait_for(bus, "twin.events", 1)
            for _ in range(100):
                if bus.flushes:
                    break
                await asyncio.sleep(0.01)
            assert bus.flushes >= 1  # a check of the published events is waiting for the broker
            await bus.publish("telemetry.raw", THING, _command("modify", "/attributes/a", 2))
            events = await _wait_for(bus, "twin.events", 2)
            assert decode(events[1].value).value == 2
        finally:
            bus.released.set()
    await store.aclose()
