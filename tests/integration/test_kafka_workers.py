"""Engine workers on a real Kafka broker, Redis checkpoints and PostgreSQL history.

The whole loop: Ditto commands → telemetry.raw → twin service (as Ditto's Kafka connectivity) →
twin.events → engine worker → twin.commands → twin service; alarm topics; history rows.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import pytest
from service_urls import postgres_schema_url
from worker_support import TUBING, read_topic, wait_for, write_rules

from centinela.errors import TwinError
from centinela.infra.kafka_bus import KafkaBus
from centinela.infra.postgres_history import PostgresHistoryStore
from centinela.infra.redis_state import RedisStateStore
from centinela.rules.bus_sinks import AlarmSink, CommandSink
from centinela.rules.loading import load_program
from centinela.rules.sinks import HistorySink, ListSink
from centinela.rules.worker import EngineWorker, WorkerSettings
from centinela.twin.connectivity import KafkaConnectivity, load_connection
from centinela.twin.messages import command_envelope
from centinela.twin.protocol import encode
from centinela.twin.store import EmbeddedTwinStore

pytestmark = pytest.mark.integration

CONNECTION = Path(__file__).resolve().parents[2] / "compose" / "ditto" / "connection-kafka.json"
DOUBLE = "/features/computed/properties/double"
HIGH = "/features/alarms/properties/HighPressure"


async def test_whole_pipeline_through_kafka(kafka_url: str, redis_url: str, tmp_path: Path) -> None:
    run = "w" + uuid.uuid4().hex[:8]
    data = json.loads(CONNECTION.read_text())
    for source in data["sources"]:
        source["addresses"] = [f"{run}.{a}" for a in source["addresses"]]
    data["targets"][0]["address"] = f"{run}.twin.events/{{{{ thing:id }}}}"
    connection = load_connection(data)
    things = [f"test.{run}:well-{i}" for i in range(3)]
    program = load_program([write_rules(tmp_path)])

    bus = await KafkaBus.from_url(kafka_url + "?partitions=3")
    store = await EmbeddedTwinStore().open()
    state = await RedisStateStore.from_url(redis_url, namespace=f"centinela:test:{run}")
    history = await PostgresHistoryStore.open(postgres_schema_url(), flush_interval=0.2)
    listing = ListSink()
    sinks = [
        CommandSink(bus, f"{run}.twin.commands"), AlarmSink(bus, f"{run}."), HistorySink(history), listing
    ]
    worker = EngineWorker(program, bus, state, sinks, WorkerSettings(f"{run}.twin.events", f"rules-{run}"))
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        async with KafkaConnectivity(connection, bus, store, group=f"ditto-{run}"):
            for thing in things:
                doc = {"attributes": {"kind": "well"},
                       "features": {"pressure": {"properties": {"tubing": 900.0}}}}
                create = command_envelope(thing, "create", "/", doc)
                await bus.publish(f"{run}.telemetry.raw", thing, encode(create).encode())
            for value in (1000.0, 1600.0, 1650.0):
                for thing in things:
                    modify = command_envelope(thing, "modify", TUBING, value)
                    await bus.publish(f"{run}.telemetry.raw", thing, encode(modify).encode())
            await bus.flush()

            async def twins_updated() -> bool:
                for thing in things:
                    try:
                        doc = await store.retrieve(thing)
                    except TwinError:  # not created yet
                        return False
                    props = doc.get("features", {}).get("computed", {}).get("properties", {})
                    alarms = doc.get("features", {}).get("alarms", {}).get("properties", {})
                    if props.get("double") != 3300.0 or not alarms.get("HighPressure", {}).get("active"):
                        return False
                return True

            await wait_for(twins_updated, 60, "computed and alarm features in every twin")
            # The worker's own merges come back as twin events and are recognised as its own.
            await wait_for(lambda: worker.ignored_own >= len(things), 30, "the engine's own events")
            stop.set()
            await asyncio.wait_for(task, 30)
        assert worker.events == 3 * 4 and worker.ignored_own > 0 and worker.dead_lettered == 0
        for thing in things:
            alarm = await store.retrieve(thing, HIGH)
            assert alarm["state"] == "active-unacknowledged" and alarm["severity"] == "critical"

        # Alarm transitions on the critical topic, once each, keyed by thing.
        records = await read_topic(bus, f"{run}.alarms.critical", f"check-{run}", len(things), 20)
        published = [json.loads(r.value) for r in records]
        assert sorted(a["thingId"] for a in published) == sorted(things)
        assert {r.key for r in records} == set(things)
        assert sorted(a["id"] for a in published) == sorted(a.id for a in listing.out.alarms)

        # History: every reading (bind + 3 changes per thing) and the computed values, plus the journal.
        for thing in things:
            rows = await history.query(thing, TUBING, 0, 4e9)
            assert [v for _, v in rows] == [900.0, 1000.0, 1600.0, 1650.0]
            computed = await history.query(thing, DOUBLE, 0, 4e9)
            assert computed[-1][1] == 3300.0
        journal = await history.alarms(0, 4e9)
        assert sorted(a.alarm_id for a in journal) == sorted(a["id"] for a in published)

        # The checkpoint holds every partition's offset.
        saved = await state.load_prefix(f"engine/rules-{run}/{run}.twin.events/")
        offsets = sorted(k for k in saved if k.endswith("/offset"))
        assert len(offsets) >= 1
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        await history.aclose()
        await state.aclose()
        await store.aclose()
        await bus.aclose()
