"""The distributed loop over a real Kafka broker, with the embedded twin service as Ditto's connectivity:
adapter → telemetry.raw → twin service → twin.events → engine → twin.commands → twin service."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import pytest

from centinela.infra.kafka_bus import KafkaBus
from centinela.twin.connectivity import KafkaConnectivity, load_connection
from centinela.twin.messages import command_envelope
from centinela.twin.protocol import decode, encode
from centinela.twin.store import EmbeddedTwinStore

pytestmark = pytest.mark.integration

CONNECTION = Path(__file__).resolve().parents[2] / "compose" / "ditto" / "connection-kafka.json"
TUBING = "/features/pressure/properties/tubing"
DOUBLE = "/features/computed/properties/double"


async def test_adapter_to_engine_and_back_through_kafka(kafka_url: str) -> None:
    run = uuid.uuid4().hex[:8]
    # The committed connection, on topics of this run only (the broker is shared between runs).
    data = json.loads(CONNECTION.read_text())
    for source in data["sources"]:
        source["addresses"] = [f"{run}.{a}" for a in source["addresses"]]
    data["targets"][0]["address"] = f"{run}.twin.events/{{{{ thing:id }}}}"
    connection = load_connection(data)
    things = [f"test.r{run}:well-{i}" for i in range(3)]  # a namespace part starts with a letter

    bus = await KafkaBus.from_url(kafka_url + "?partitions=3")
    store = await EmbeddedTwinStore().open()
    engine = await bus.consumer([f"{run}.twin.events"], group=f"rules-{run}")
    try:
        async with KafkaConnectivity(connection, bus, store, group=f"ditto-{run}") as connectivity:
            for thing in things:
                empty = {"features": {"pressure": {"properties": {}}}}
                create = command_envelope(thing, "create", "/", empty)
                await bus.publish(f"{run}.telemetry.raw", thing, encode(create).encode())
            for n in range(10):
                for thing in things:
                    modify = command_envelope(thing, "modify", TUBING, 1000.0 + n)
                    await bus.publish(f"{run}.telemetry.raw", thing, encode(modify).encode())
            await bus.flush()

            # The engine: twin events in, computed merges out, skipping its own writes.
            revisions: dict[str, list[int]] = {t: [] for t in things}
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 60
            done: set[str] = set()
            while len(done) < len(things) and loop.time() < deadline:
                records = await engine.getmany(timeout=0.5)
                for record in records:
                    event = decode(record.value)
                    thing = event.topic.entity_id if event.topic else None
                    assert thing is not None and record.key == thing
                    revisions[thing].append(int(event.revision or 0))
                    if dict(record.headers).get("centinela-origin") == b"engine":
                        if event.value == {"double": 2 * 1009.0}:
                            done.add(thing)
                        continue
                    if event.path == TUBING:
                        merge = command_envelope(thing, "merge", "/features/computed/properties",
                                                 {"double": 2 * event.value},
                                                 headers={"centinela-origin": "engine"})
                        await bus.publish(f"{run}.twin.commands", thing, encode(merge).encode())
                await bus.flush()
                await engine.commit(records)
            stats = (connectivity.applied, connectivity.dead_lettered, connectivity.published)
            assert done == set(things), stats
        for thing in things:
            assert await store.retrieve(thing, TUBING) == 1009.0
            assert await store.retrieve(thing, DOUBLE) == 2018.0
            # 1 create + 10 modifies + 10 computed merges, each event once and in revision order.
            assert revisions[thing] == list(range(1, 22))
    finally:
        await engine.aclose()
        await store.aclose()
        await bus.aclose()


async def test_twin_serve_runs_a_ditto_connection_from_the_command_line(
    kafka_url: str, tmp_path: Path
) -> None:
    import signal
    import sys

    import httpx

    run = uuid.uuid4().hex[:8]
    data = json.loads(CONNECTION.read_text())
    for source in data["sources"]:
        source["addresses"] = [f"{run}.{a}" for a in source["addresses"]]
    data["targets"][0]["address"] = f"{run}.twin.events/{{{{ thing:id }}}}"
    (tmp_path / "connection.json").write_text(json.dumps(data))
    thing = f"test.c{run}:well-1"
    cli = str(Path(sys.executable).with_name("centinela"))
    service = await asyncio.create_subprocess_exec(
        cli, "twin", "serve", "--port", "0", "--connection", str(tmp_path / "connection.json"),
        "--kafka", kafka_url, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    bus = await KafkaBus.from_url(kafka_url)
    events = await bus.consumer([f"{run}.twin.events"], group=f"app-{run}")
    try:
        assert service.stdout is not None
        banner = [(await asyncio.wait_for(service.stdout.readline(), 30)).decode() for _ in range(2)]
        assert f"Ditto connection 'centinela-kafka' on {kafka_url}" in banner[0], banner
        url = banner[1].split(" on ", 1)[1].split(" ", 1)[0]
        doc = {"features": {"pressure": {"properties": {"tubing": 7.0}}}}
        create = command_envelope(thing, "create", "/", doc)
        await bus.publish(f"{run}.telemetry.raw", thing, encode(create).encode())
        await bus.flush()
        seen = []
        for _ in range(60):
            seen += [decode(r.value) for r in await events.getmany(timeout=0.5)]
            if seen:
                break
        created = f"test.c{run}/well-1/things/twin/events/created"
        assert [(str(e.topic), e.revision) for e in seen] == [(created, 1)]
        async with httpx.AsyncClient(auth=("ditto", "ditto")) as http:
            answer = await http.get(f"{url}/api/2/things/{thing}/features/pressure/properties/tubing")
        assert (answer.status_code, answer.json()) == (200, 7.0)
    finally:
        await events.aclose()
        await bus.aclose()
        service.send_signal(signal.SIGINT)
        _, err = await asyncio.wait_for(service.communicate(), 30)
    assert service.returncode == 0, err.decode()[-2000:]
