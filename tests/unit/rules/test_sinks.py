"""Sinks: the twin sink writes one merge per thing, coalescing steps that pile up while it writes."""

from __future__ import annotations

import asyncio

from centinela.rules.output import StepOutput
from centinela.rules.sinks import TwinSink, alarm_topic
from centinela.twin.store import EmbeddedTwinStore

THING = "org.acme.wells:w1"


def _step(pointer: str, value: float) -> StepOutput:
    out = StepOutput()
    out.patch(THING, pointer, value)
    return out


async def test_coalescing_twin_sink_merges_piled_up_steps_per_thing() -> None:
    async with EmbeddedTwinStore() as twin:
        await twin.modify(THING, "/", {"features": {}})
        sink = TwinSink(twin, coalesce=True)
        revision = twin.revision(THING)
        await sink.emit(_step("/features/production/properties/liquidRate", 1.0))
        await sink.emit(_step("/features/production/properties/liquidRate", 2.0))
        await sink.emit(_step("/features/production/properties/waterCut", 5.0))
        await sink.flush()
        assert sink.merges == 1
        assert twin.revision(THING) == (revision or 0) + 1
        props = await twin.retrieve(THING, "/features/production/properties")
        assert props == {"liquidRate": 2.0, "waterCut": 5.0}


async def test_plain_twin_sink_writes_every_step() -> None:
    async with EmbeddedTwinStore() as twin:
        await twin.modify(THING, "/", {"features": {}})
        sink = TwinSink(twin)
        await sink.emit(_step("/features/production/properties/liquidRate", 1.0))
        await sink.emit(_step("/features/production/properties/liquidRate", 2.0))
        assert sink.merges == 2
        assert await twin.retrieve(THING, "/features/production/properties/liquidRate") == 2.0


def test_alarm_topics_by_severity() -> None:
    assert [alarm_topic(s) for s in ("critical", "high", "medium", "low")] == [
        "alarms.critical",
        "alarms.critical",
        "alarms.warnings",
        "alarms.warnings",
    ]


async def test_coalescing_writer_lets_other_tasks_run_during_a_long_batch() -> None:
    async with EmbeddedTwinStore() as twin:
        things = [f"org.acme.wells:w{i}" for i in range(2 * TwinSink.YIELD_EVERY + 3)]
        for thing in things:
            await twin.modify(thing, "/", {"features": {}})
        sink = TwinSink(twin, coalesce=True)
        out = StepOutput()
        for thing in things:
            out.patch(thing, "/features/out/properties/x", 1.0)
        await sink.emit(out)
        await asyncio.sleep(0)  # the writer starts and gives the loop back after one slice
        assert sink.merges == TwinSink.YIELD_EVERY
        await sink.flush()
        assert sink.merges == len(things)
        assert all(twin.revision(thing) == 2 for thing in things)
