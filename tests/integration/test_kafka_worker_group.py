"""Two engine workers in one consumer group on real Kafka with Redis or PostgreSQL checkpoints: partitions
are shared; when one stops, the other takes its partitions over with their restored state, and the alarm
timeline equals a single worker's, with no transition lost or repeated."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from service_urls import postgres_schema_url
from worker_support import spread_things, wait_for, well_script, write_rules

from centinela.infra.kafka_bus import KafkaBus
from centinela.infra.memory_state import MemoryStateStore
from centinela.infra.postgres_state import PostgresStateStore
from centinela.infra.redis_state import RedisStateStore
from centinela.ports import StateStore
from centinela.rules.loading import load_program
from centinela.rules.sinks import ListSink
from centinela.rules.worker import EngineWorker, WorkerSettings

pytestmark = pytest.mark.integration

PARTITIONS = 4
T0 = 1_750_000_000.0


def timeline(*sinks: ListSink) -> list[tuple[str, str, float, str, str]]:
    return sorted((a.thing_id, a.rule, a.time, a.state, a.id) for s in sinks for a in s.out.alarms)


@pytest.mark.parametrize("backend", ["redis", "postgres"])
async def test_two_workers_share_partitions_and_take_over(
    kafka_url: str, redis_url: str, postgres_url: str, tmp_path: Path, backend: str
) -> None:
    run = "g" + uuid.uuid4().hex[:8]
    topic = f"{run}.twin.events"
    program = load_program([write_rules(tmp_path)])
    things = spread_things(f"test.{run}", PARTITIONS, 2)
    script = well_script(things, 12, T0)
    split = len(things) * 7  # created events and 6 steps, then 6 more steps
    phase1, phase2 = script[:split], script[split:]

    bus = await KafkaBus.from_url(kafka_url, partitions={topic: PARTITIONS})
    state: StateStore
    if backend == "redis":
        state = await RedisStateStore.from_url(redis_url, namespace=f"centinela:test:{run}")
    else:
        state = await PostgresStateStore.open(postgres_schema_url())
    settings = WorkerSettings(topic, f"rules-{run}", poll_seconds=0.05, checkpoint_seconds=0.2)
    sink_a, sink_b, sink_ref = ListSink(), ListSink(), ListSink()
    a = EngineWorker(program, bus, state, [sink_a], settings)
    b = EngineWorker(program, bus, state, [sink_b], settings)
    ref = EngineWorker(program, bus, MemoryStateStore(), [sink_ref], WorkerSettings(topic, f"ref-{run}"))
    stop_a, stop_b, stop_ref = asyncio.Event(), asyncio.Event(), asyncio.Event()
    tasks = [asyncio.create_task(w.run(s)) for w, s in ((a, stop_a), (b, stop_b), (ref, stop_ref))]
    try:
        await wait_for(
            lambda: a.partitions and b.partitions and len(a.partitions + b.partitions) == PARTITIONS,
            60, "both workers to own partitions",
        )
        shared = (list(a.partitions), list(b.partitions))
        for key, value in phase1:
            await bus.publish(topic, key, value)
        await bus.flush()
        await wait_for(lambda: a.events + b.events == len(phase1), 60, "phase 1 to be processed")
        assert a.events > 0 and b.events > 0

        stop_b.set()
        await asyncio.wait_for(tasks[1], 30)
        await wait_for(lambda: len(a.partitions) == PARTITIONS, 60, "worker A to own every partition")
        for key, value in phase2:
            await bus.publish(topic, key, value)
        await bus.flush()
        await wait_for(lambda: a.events + b.events == len(script), 60, "phase 2 to be processed")
        await wait_for(lambda: ref.events == len(script), 60, "the single-worker run")
    finally:
        for stop in (stop_a, stop_b, stop_ref):
            stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 30)
        await state.aclose()
        await bus.aclose()

    assert sorted(shared[0] + shared[1]) == [(topic, p) for p in range(PARTITIONS)]
    got, want = timeline(sink_a, sink_b), timeline(sink_ref)
    assert any(t[3].startswith("returned") for t in want)  # transitions that need the restored state
    assert got == want
    ids = [t[4] for t in got]
    assert len(ids) == len(set(ids))
    # The worker that took over continued the stopped worker's things from their saved alarm states.
    things_b = {e.thing_id for e in sink_b.out.alarms}
    taken = [e for e in sink_a.out.alarms if e.thing_id in things_b and e.time >= T0 + 7]
    assert taken and any(e.previous != "normal" for e in taken)
    assert not any(e.thing_id in things_b and e.time < T0 + 7 for e in sink_a.out.alarms)
