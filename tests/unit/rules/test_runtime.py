"""The runtime against the in-process twin store: events in, computed features and alarms out."""

from __future__ import annotations

import asyncio
import json

from handmade import TUBING, well_program, well_thing

from centinela.clock import ManualClock
from centinela.infra.memory_bus import MemoryBus
from centinela.infra.memory_state import MemoryStateStore
from centinela.rules.alarms import Action, ActionKind
from centinela.rules.runtime import Runtime
from centinela.rules.sinks import BusSink, ListSink, TwinSink
from centinela.twin.store import EmbeddedTwinStore

WELL = "org.acme.wells:well-01"


async def _settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def test_readings_through_the_twin_store_raise_an_alarm_feature() -> None:
    clock = ManualClock(1000.0)
    async with EmbeddedTwinStore(clock=clock) as twin:
        await twin.modify(WELL, "/", well_thing())
        bus = MemoryBus()
        listed = ListSink()
        runtime = Runtime(well_program(), twin, clock, [TwinSink(twin), BusSink(bus), listed])
        consumer = await bus.consumer(["alarms.critical"], group="test")
        task = asyncio.create_task(runtime.run())
        await runtime.ready.wait()
        thing = await twin.retrieve(WELL)
        assert thing["features"]["production"]["properties"] == {"liquidRate": 1000.0, "waterCut": 20.0}

        await clock.advance(5)
        await twin.merge(
            WELL,
            "/features/pressure/properties",
            {"tubing": 3150.0},
            headers={"centinela-source-time": str(1004_000)},
        )
        await _settle()
        await clock.advance(40)
        await _settle()
        alarm = await twin.retrieve(WELL, "/features/alarms/properties/HighTubingPressure")
        assert alarm["state"] == "active-unacknowledged"
        assert alarm["since"] == 1034.0  # the source time of the reading + the 30 s on-delay
        records = await consumer.getmany(timeout=1.0)
        assert [json.loads(r.value)["rule"] for r in records] == ["HighTubingPressure"]
        assert runtime.ignored_own >= 2  # its own merges came back as events and were skipped
        await twin.merge(
            WELL,
            "/features/pressure/properties/tubing",
            2000.0,
            headers={"centinela-source-time": str(1002_000)},
        )  # older than the last reading
        await _settle()
        stats = runtime.stats()
        assert stats["outOfOrder"] == 1 and stats["things"] == 1
        assert runtime.engine.contexts[WELL][0].values[TUBING] == 3150.0

        events = await runtime.act(WELL, "HighTubingPressure", Action(ActionKind.ACK))
        assert [e.state for e in events] == ["active-acknowledged"]
        await _settle()
        alarm = await twin.retrieve(WELL, "/features/alarms/properties/HighTubingPressure")
        assert alarm["state"] == "active-acknowledged"
        assert TUBING in runtime.engine.contexts[WELL][0].values
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await consumer.aclose()
        await bus.aclose()


async def test_restart_from_checkpoint_keeps_a_pending_on_delay() -> None:
    clock = ManualClock(1000.0)
    state = MemoryStateStore()
    async with EmbeddedTwinStore(clock=clock) as twin:
        await twin.modify(WELL, "/", well_thing())
        first = Runtime(well_program(), twin, clock, [TwinSink(twin)], state=state)
        task = asyncio.create_task(first.run())
        await first.ready.wait()
        await clock.advance(1)
        await twin.merge(WELL, "/features/pressure/properties/tubing", 3150.0)
        await _settle()
        await first.checkpoint()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

        listed = ListSink()
        second = Runtime(well_program(), twin, clock, [TwinSink(twin), listed], state=state)
        task = asyncio.create_task(second.run())
        await second.ready.wait()
        await clock.advance(60)
        await _settle()
        assert [(a.time, a.state) for a in listed.out.alarms] == [(1031.0, "active-unacknowledged")]
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_freeze_gc_takes_the_start_up_state_out_of_the_collectors_scans() -> None:
    import gc

    clock = ManualClock(1000.0)
    async with EmbeddedTwinStore(clock=clock) as twin:
        await twin.modify(WELL, "/", well_thing())
        for freeze in (False, True):
            before = gc.get_freeze_count()
            runtime = Runtime(well_program(), twin, clock, [ListSink()], freeze_gc=freeze)
            task = asyncio.create_task(runtime.run())
            try:
                await runtime.ready.wait()
                frozen = gc.get_freeze_count()
                thing_contexts = runtime.engine.contexts[WELL]
                assert (frozen > before) is freeze
                assert any(obj is thing_contexts for obj in gc.get_objects()) is not freeze
            finally:
                gc.unfreeze()
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
