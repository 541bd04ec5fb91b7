"""Shared pieces of the engine-worker tests on real Kafka: rules, twin events, topic readers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from centinela.infra.kafka_bus import KafkaBus
from centinela.ports import Record, ThingEvent
from centinela.twin.messages import event_envelope
from centinela.twin.protocol import encode

__all__ = ["RULES", "TUBING", "read_topic", "twin_event", "wait_for", "well_script", "write_rules"]

RULES = """
namespace test.workers

twins Well = things "*" where attributes.kind == "well"

compute Well computed.double = pressure.tubing * 2

alarm Well HighPressure severity critical
    when pressure.tubing > 1500
    clear when pressure.tubing < 1200

alarm Well LowPressure severity warning
    when pressure.tubing < 100
"""
TUBING = "/features/pressure/properties/tubing"


def write_rules(folder: Path) -> Path:
    path = folder / "wells.rules"
    path.write_text(RULES)
    return path


def twin_event(thing: str, action: str, path: str, value: Any, revision: int, time: float) -> bytes:
    """A Ditto Protocol twin event as the connectivity publishes it."""
    return encode(event_envelope(ThingEvent(thing, action, path, value, revision, time))).encode()


def well_script(things: list[str], steps: int, t0: float) -> list[tuple[str, bytes]]:
    """Created events, then `steps` tubing readings per thing swinging through both alarms."""
    out: list[tuple[str, bytes]] = []
    for thing in things:
        doc = {"attributes": {"kind": "well"}, "features": {"pressure": {"properties": {"tubing": 1000.0}}}}
        out.append((thing, twin_event(thing, "created", "/", doc, 1, t0)))
    cycle = [1000.0, 1600.0, 1700.0, 1100.0, 50.0, 900.0]
    for n in range(steps):
        for i, thing in enumerate(things):
            value = cycle[(n + i) % len(cycle)] + n * 0.001
            out.append((thing, twin_event(thing, "modified", TUBING, value, n + 2, t0 + 1 + n)))
    return out


async def wait_for(check: Callable[[], Any], seconds: float, what: str) -> None:
    """Poll an (async or plain) check every 50 ms until it is truthy; fail naming `what` after `seconds`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            raise AssertionError(f"Timed out after {seconds} s waiting for {what}.")
        await asyncio.sleep(0.05)


async def read_topic(bus: KafkaBus, topic: str, group: str, count: int, seconds: float) -> list[Record]:
    """Read `topic` from the start in a fresh group until `count` records (or `seconds`) and a quiet poll."""
    consumer = await bus.consumer([topic], group=group)
    out: list[Record] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    try:
        while loop.time() < deadline:
            batch = await consumer.getmany(timeout=0.3)
            out.extend(batch)
            if len(out) >= count and not batch:
                break
    finally:
        await consumer.aclose()
    return out


def alarm_ids(records: list[Record]) -> list[str]:
    return [json.loads(r.value)["id"] for r in records]


def spread_things(prefix: str, partitions: int, per_partition: int) -> list[str]:
    """Thing ids whose keys land `per_partition` on each of `partitions` partitions (Kafka's hashing).

    Random ids can all hash to the partitions of one group member, which would leave the other idle.
    """
    from centinela.infra.kafka_outbox import partition_for

    every = list(range(partitions))
    counts = [0] * partitions
    things: list[str] = []
    i = 0
    while len(things) < partitions * per_partition:
        thing = f"{prefix}:well-{i}"
        part = partition_for(thing.encode("utf-8"), every, every)
        if counts[part] < per_partition:
            counts[part] += 1
            things.append(thing)
        i += 1
    return things

