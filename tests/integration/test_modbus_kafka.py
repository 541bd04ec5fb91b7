"""Modbus readings published to a real Kafka broker as Ditto Protocol merge commands keyed by thing id."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from centinela.adapters.buffer import CommandQueue
from centinela.adapters.codec import DataType, encode
from centinela.adapters.config import GatewayConfig, Table
from centinela.adapters.gateway import Gateway
from centinela.adapters.sim_modbus import ModbusRegisterServer
from centinela.adapters.sinks import open_sink
from centinela.config import open_bus
from centinela.ports import Record

pytestmark = pytest.mark.integration

WELL = "org.acme.wells:well-01"
RIG = "org.acme.rigs:rig-01"


async def test_readings_reach_kafka_keyed_by_thing(kafka_url: str, tmp_path: Path) -> None:
    topic = f"telemetry.raw.test-{uuid.uuid4().hex[:8]}"
    async with ModbusRegisterServer([1, 2]) as device:
        await device.write(1, Table.HOLDING, 0, encode(2450.5, DataType.FLOAT32))
        await device.write(2, Table.HOLDING, 0, encode(481.25, DataType.FLOAT32))
        config = GatewayConfig.model_validate({
            "name": "kafka-test", "batch_interval": 0.05,
            "modbus": [
                {"name": "w1", "port": device.port, "unit": 1, "poll_interval": 0.05, "points": [
                    {"name": "tubing", "thing": WELL, "feature": "pressure", "property": "tubing",
                     "address": 0}]},
                {"name": "rig", "port": device.port, "unit": 2, "poll_interval": 0.05, "points": [
                    {"name": "pit", "thing": RIG, "feature": "pit", "property": "volume", "address": 0}]},
            ],
        })  # fmt: skip
        sink = await open_sink(f"{kafka_url}/{topic}")
        bus = await open_bus(kafka_url)
        consumer = await bus.consumer([topic], group=f"test-{uuid.uuid4().hex[:8]}")
        records: list[Record] = []
        try:
            async with Gateway(config, sink, queue=CommandQueue(tmp_path / "q.sqlite", 1000)):
                for _ in range(40):
                    records += await consumer.getmany(timeout=0.5)
                    keys = {r.key for r in records}
                    if {WELL, RIG} <= keys and len(records) >= 4:
                        break
        finally:
            await consumer.aclose()
            await bus.aclose()
    by_key: dict[str | None, list[dict[str, object]]] = {}
    for record in records:
        by_key.setdefault(record.key, []).append(json.loads(record.value))
    values = [c["value"] for c in by_key[WELL]]
    assert {"pressure": {"properties": {"tubing": 2450.5}}} in values
    assert {"pit": {"properties": {"volume": 481.25}}} in [c["value"] for c in by_key[RIG]]
    command = next(c for c in by_key[WELL] if "pressure" in c["value"])  # type: ignore[operator]
    assert command["topic"] == "org.acme.wells/well-01/things/twin/commands/merge"
    assert command["path"] == "/features"
    assert int(command["headers"]["centinela-source-time"]) > 1_600_000_000_000  # type: ignore[index]
