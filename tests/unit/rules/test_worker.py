"""EngineWorker on the in-process bus: decoding, binding from events, effects, checkpoints, restarts."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from centinela.errors import ConfigError, StateError
from centinela.infra.dlq import read_dead_letter
from centinela.infra.memory_bus import MemoryBus
from centinela.infra.memory_state import MemoryStateStore
from centinela.ports import ThingEvent
from centinela.rules.bus_sinks import CommandSink
from centinela.rules.kafka_source import parse_source
from centinela.rules.loading import load_program
from centinela.rules.sinks import BusSink, ListSink
from centinela.rules.worker import EngineWorker, WorkerSettings
from centinela.twin.messages import event_envelope
from centinela.twin.protocol import decode, encode

RULES = """
namespace test.workers

twins Well = things "test.w:*" where attributes.kind == "well"

compute Well computed.double = pressure.tubing * 2

alarm Well HighPressure severity critical
    when pressure.tubing > 1500
    clear when pressure.tubing < 1200
"""
TUBING = "/features/pressure/properties/tubing"
T0 = 1_700_000_000.0


@pytest.fixture
def program(tmp_path: Path):  # type: ignore[no-untyped-def]
    path = tmp_path / "wells.rules"
    path.write_text(RULES)
    return load_program([path])


async def publish(bus: MemoryBus, event: ThingEvent) -> None:
    await bus.publish("twin.events", event.thing_id, encode(event_envelope(event)).encode())


def created(thing: str, tubing: float, t: float, kind: str = "well") -> ThingEvent:
    value = {"attributes": {"kind": kind}, "features": {"pressure": {"properties": {"tubing": tubing}}}}
    return ThingEvent(thing, "created", "/", value, 1, t)


def modified(thing: str, tubing: float, t: float, rev: int) -> ThingEvent:
    return ThingEvent(thing, "modified", TUBING, tubing, rev, t)


async def run_until(worker: EngineWorker, done: Callable[[], bool]) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    for _ in range(200):
        if done():
            break
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert done()


def make(program, bus, state, listing=None):  # type: ignore[no-untyped-def]
    sinks = [CommandSink(bus), BusSink(bus)] + ([listing] if listing is not None else [])
    return EngineWorker(program, bus, state, sinks, WorkerSettings(poll_seconds=0.02, checkpoint_seconds=0.0),
                        now=lambda: T0 + 1000)


async def test_worker_binds_from_events_emits_commands_and_alarms(program) -> None:  # type: ignore[no-untyped-def]
    bus, state, listing = MemoryBus(), MemoryStateStore(), ListSink()
    await publish(bus, created("test.w:a", 1000.0, T0))
    await publish(bus, created("test.w:pump", 2000.0, T0, kind="pump"))  # no class matches
    await publish(bus, modified("test.w:a", 1600.0, T0 + 1, 2))
    own = ThingEvent("test.w:a", "merged", "/", {"features": {}}, 3, T0 + 1, {"centinela-origin": "engine"})
    await publish(bus, own)
    await bus.publish("twin.events", "test.w:a", b"{not json")
    worker = make(program, bus, state, listing)
    await run_until(worker, lambda: worker.dead_lettered == 1)

    assert worker.events == 3 and worker.ignored_own == 1
    commands = [decode(r.value) for r in bus.records("twin.commands")]
    assert {r.key for r in bus.records("twin.commands")} == {"test.w:a"}
    assert all(dict(r.headers)["centinela-origin"] == b"engine" for r in bus.records("twin.commands"))
    assert commands[-1].value["features"]["computed"]["properties"]["double"] == 3200.0
    assert commands[-1].headers["centinela-origin"] == "engine"
    alarms = [json.loads(r.value) for r in bus.records("alarms.critical")]
    assert [(a["thingId"], a["state"], a["time"]) for a in alarms] == [
        ("test.w:a", "active-unacknowledged", T0 + 1)
    ]
    dlq = bus.records("twin.events.dlq")
    assert dlq[0].value == b"{not json"
    assert "not a Ditto Protocol twin event" in read_dead_letter(dlq[0]).reason
    # Checkpointed: the partition's thing and the next offset, and the offsets committed.
    assert await state.load("engine/rules/twin.events/0/offset") == b"5"
    assert await state.load("engine/rules/twin.events/0/thing/test.w:a") is not None
    assert bus.committed("rules", "twin.events") == 5


async def test_restart_resumes_from_the_checkpoint(program) -> None:  # type: ignore[no-untyped-def]
    bus, state = MemoryBus(), MemoryStateStore()
    await publish(bus, created("test.w:a", 1000.0, T0))
    await publish(bus, modified("test.w:a", 1600.0, T0 + 1, 2))
    first = make(program, bus, state)
    await run_until(first, lambda: first.events == 2)
    # A second worker of the group: no created event left to bind from; the checkpoint has the thing.
    await publish(bus, modified("test.w:a", 1100.0, T0 + 2, 3))
    second = make(program, bus, state)
    await run_until(second, lambda: second.events == 1)
    alarms = [json.loads(r.value) for r in bus.records("alarms.critical")]
    assert [(a["previous"], a["state"]) for a in alarms] == [
        ("normal", "active-unacknowledged"),
        ("active-unacknowledged", "returned-unacknowledged"),
    ]
    assert len({a["id"] for a in alarms}) == 2


async def test_records_already_in_the_state_are_skipped(program) -> None:  # type: ignore[no-untyped-def]
    bus, state = MemoryBus(), MemoryStateStore()
    await publish(bus, created("test.w:a", 1000.0, T0))
    await publish(bus, modified("test.w:a", 1600.0, T0 + 1, 2))
    first = make(program, bus, state)
    await run_until(first, lambda: first.events == 2)
    # As if the worker died after saving its state but before committing: everything is redelivered.
    bus.set_committed("rules", "twin.events", 0)
    await publish(bus, modified("test.w:a", 1100.0, T0 + 2, 3))
    second = make(program, bus, state)
    await run_until(second, lambda: second.events == 1)
    assert second.skipped == 2
    alarms = [json.loads(r.value) for r in bus.records("alarms.critical")]
    assert [a["state"] for a in alarms] == ["active-unacknowledged", "returned-unacknowledged"]


def test_source_urls() -> None:
    source = parse_source("kafka://127.0.0.1:9092,h2:9092/run1.twin.events?partitions=6")
    assert source.bus_url == "kafka://127.0.0.1:9092,h2:9092?partitions=6"
    assert source.topic == "run1.twin.events"
    assert parse_source("kafka://k:9092").topic == "twin.events"
    with pytest.raises(ConfigError, match="not a Kafka URL"):
        parse_source("redis://k:9092/twin.events")


class FlakyState(MemoryStateStore):
    """Refuses the first `failures` saves, as a state store that is down for a moment."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    async def save(self, items):  # type: ignore[no-untyped-def]
        if self.failures:
            self.failures -= 1
            raise StateError("The state store is unreachable.")
        await super().save(items)


async def test_a_failed_checkpoint_rewinds_to_the_last_one(program) -> None:  # type: ignore[no-untyped-def]
    bus, state = MemoryBus(), FlakyState(failures=1)
    await publish(bus, created("test.w:a", 1000.0, T0))
    await publish(bus, modified("test.w:a", 1600.0, T0 + 1, 2))
    worker = make(program, bus, state)
    worker.settings = WorkerSettings(poll_seconds=0.02, checkpoint_seconds=0.0, retry_seconds=0.01)
    await run_until(worker, lambda: bus.committed("rules", "twin.events") == 2)
    assert worker.failures == 1 and worker.events == 4  # both records processed again after the rewind
    assert await state.load("engine/rules/twin.events/0/offset") == b"2"
    # The transition was published twice (at-least-once), as identical records.
    alarms = [r.value for r in bus.records("alarms.critical")]
    assert len(alarms) == 2 and alarms[0] == alarms[1]
    # The saved state is complete: a new worker continues the alarm from it.
    await publish(bus, modified("test.w:a", 1100.0, T0 + 2, 3))
    second = make(program, bus, state)
    await run_until(second, lambda: second.events == 1)
    assert json.loads(bus.records("alarms.critical")[-1].value)["state"] == "returned-unacknowledged"


class GatedState(MemoryStateStore):
    """Holds every save until `gate` is set, as a slow state store."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.saving = asyncio.Event()

    async def save(self, items):  # type: ignore[no-untyped-def]
        self.saving.set()
        await self.gate.wait()
        await super().save(items)


async def test_records_are_processed_while_a_checkpoint_is_being_saved(program) -> None:  # type: ignore[no-untyped-def]
    bus, state = MemoryBus(), GatedState()
    await publish(bus, created("test.w:a", 1000.0, T0))
    await publish(bus, modified("test.w:a", 1600.0, T0 + 1, 2))
    worker = make(program, bus, state)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        await asyncio.wait_for(state.saving.wait(), 5)
        await publish(bus, modified("test.w:a", 1100.0, T0 + 2, 3))
        for _ in range(200):
            if worker.events == 3:
                break
            await asyncio.sleep(0.01)
        assert worker.events == 3  # the third record went through the engine during the save
        assert [json.loads(r.value)["state"] for r in bus.records("alarms.critical")][-1] == (
            "returned-unacknowledged"
        )
        assert bus.committed("rules", "twin.events") == 0  # nothing committed before its state is saved
        state.gate.set()
        for _ in range(200):
            if bus.committed("rules", "twin.events") == 3:
                break
            await asyncio.sleep(0.01)
        assert bus.committed("rules", "twin.events") == 3
        assert await state.load("engine/rules/twin.events/0/offset") == b"3"
    finally:
        stop.set()
        state.gate.set()
        await asyncio.wait_for(task, 5)


async def test_a_worker_with_freeze_gc_freezes_while_it_runs_and_thaws_when_it_stops(program) -> None:  # type: ignore[no-untyped-def]
    import gc

    bus, state = MemoryBus(), MemoryStateStore()
    await publish(bus, created("test.w:a", 1000.0, T0))
    await publish(bus, modified("test.w:a", 1600.0, T0 + 1, 2))
    worker = EngineWorker(program, bus, state, [CommandSink(bus), BusSink(bus)],
                          WorkerSettings(poll_seconds=0.02, checkpoint_seconds=0.0, freeze_gc=True),
                          now=lambda: T0 + 1000)
    frozen: list[int] = []

    def done() -> bool:
        frozen.append(gc.get_freeze_count())
        return worker.events == 2

    await run_until(worker, done)
    assert max(frozen) > 0  # while it ran, the objects alive when it started were frozen
    assert gc.get_freeze_count() == 0
    assert [json.loads(r.value)["state"] for r in bus.records("alarms.critical")] == ["active-unacknowledged"]
