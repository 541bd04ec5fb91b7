"""Modbus TCP adapter against a real pymodbus server on loopback, into a twin store."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from typing import Any

import pytest
from adapter_support import WatchedTwins

from centinela.adapters.buffer import CommandQueue
from centinela.adapters.codec import ByteOrder, DataType, WordOrder, encode
from centinela.adapters.config import GatewayConfig, Table
from centinela.adapters.gateway import Gateway
from centinela.adapters.output import TwinSink
from centinela.adapters.sim_modbus import ModbusRegisterServer

pytestmark = pytest.mark.integration

THING = "org.acme.test:plc-01"


@pytest.fixture
async def server() -> AsyncIterator[ModbusRegisterServer]:
    async with ModbusRegisterServer([1], size=512) as srv:
        yield srv


def _gateway(points: list[dict[str, Any]], port: int, **device: Any) -> GatewayConfig:
    return GatewayConfig.model_validate(
        {
            "name": "test",
            "batch_interval": 0.0,
            "modbus": [
                {
                    "name": "plc",
                    "port": port,
                    "poll_interval": 0.05,
                    "timeout": 0.5,
                    "backoff_initial": 0.05,
                    "backoff_max": 0.2,
                    "points": points,
                    **device,
                }
            ],
        }
    )


SAMPLES: dict[DataType, float] = {
    DataType.INT16: -12345,
    DataType.UINT16: 54321,
    DataType.INT32: -1_234_567_890,
    DataType.UINT32: 3_456_789_012,
    DataType.FLOAT32: 2450.125,
    DataType.FLOAT64: 2450.123456789012,
}


async def test_every_type_and_order_round_trips_into_the_twin(server: ModbusRegisterServer) -> None:
    points: list[dict[str, Any]] = []
    expected: dict[str, Any] = {}
    address = {Table.HOLDING: 0, Table.INPUT: 0}
    combos = itertools.product(SAMPLES, ByteOrder, WordOrder, (Table.HOLDING, Table.INPUT))
    for data_type, byte_order, word_order, table in combos:
        name = f"{table.value}_{data_type.value}_{byte_order.value}_{word_order.value}"
        value = SAMPLES[data_type]
        await server.write(1, table, address[table], encode(value, data_type, byte_order, word_order))
        points.append({
            "name": name, "thing": THING, "feature": "values", "property": name, "table": table.value,
            "address": address[table], "type": data_type.value,
            "byte_order": byte_order.value, "word_order": word_order.value,
        })  # fmt: skip
        expected[name] = value
        address[table] += len(encode(value, data_type))
    # Bits: coils, discrete inputs and single bits of a register; and a scaled integer.
    await server.write(1, Table.COIL, 3, [True, False, True])
    await server.write(1, Table.DISCRETE, 7, [False, True])
    await server.write(1, Table.HOLDING, 300, [0b1000_0000_0000_0101])
    await server.write(1, Table.HOLDING, 301, encode(-400, DataType.INT16))
    bits = [
        ("coil", 3, None, True),
        ("coil", 4, None, False),
        ("coil", 5, None, True),
        ("discrete", 8, None, True),
    ]
    bits += [("holding", 300, 0, True), ("holding", 300, 1, False), ("holding", 300, 15, True)]
    for table_name, addr, bit, value in bits:
        name = f"bit_{table_name}_{addr}_{bit}"
        point = {"name": name, "thing": THING, "feature": "bits", "property": name, "table": table_name,
                 "address": addr, "type": "bool"}  # fmt: skip
        if bit is not None:
            point["bit"] = bit
        points.append(point)
        expected[name] = value
    points.append({"name": "scaled", "thing": THING, "feature": "values", "property": "scaled",
                   "address": 301, "type": "int16", "scale": 0.1, "offset": 32.0})  # fmt: skip
    config = _gateway(points, server.port)
    async with (
        WatchedTwins([THING]) as twins,
        Gateway(config, TwinSink(twins.store), queue=CommandQueue(":memory:", 1000)) as gateway,
    ):
        await twins.wait_for(lambda: twins.prop(THING, "values", "scaled") is not None)
        # Every holding and input point (48 of them) arrives in few block reads, not one read each.
        assert len(gateway.modbus[0].blocks) == 5
    for name, value in expected.items():
        feature = "bits" if name.startswith("bit_") else "values"
        assert twins.prop(THING, feature, name) == value, name
    assert twins.prop(THING, "values", "scaled") == pytest.approx(-8.0)
    assert twins.prop(THING, "connectivity", "status") == "online"
    # The first command carries the source time of its readings.
    headers = twins.value_events("values")[0].headers
    assert int(headers["centinela-source-time"]) > 1_600_000_000_000


async def test_device_down_goes_offline_without_values_and_resumes(server: ModbusRegisterServer) -> None:
    await server.write(1, Table.HOLDING, 0, encode(100.0, DataType.FLOAT32))
    point = {"name": "tubing", "thing": THING, "feature": "pressure", "property": "tubing", "address": 0}

    def status() -> Any:
        return twins.prop(THING, "connectivity", "status")

    def value_merges() -> int:
        return len(twins.value_events("pressure"))

    async with (
        WatchedTwins([THING]) as twins,
        Gateway(_gateway([point], server.port), TwinSink(twins.store), queue=CommandQueue(":memory:", 100)),
    ):
        await twins.wait_for(
            lambda: twins.prop(THING, "pressure", "tubing") == 100.0 and status() == "online"
        )
        await server.stop()
        await twins.wait_for(lambda: status() == "offline")
        last_seen = twins.prop(THING, "connectivity", "lastSeen")
        assert isinstance(last_seen, int) and last_seen > 1_600_000_000_000
        before = value_merges()
        # While it is down (several backoff rounds) no value is fabricated.
        await server.write(1, Table.HOLDING, 0, encode(200.0, DataType.FLOAT32))
        await asyncio.sleep(0.3)
        assert value_merges() == before
        assert status() == "offline"
        await server.start()
        await twins.wait_for(
            lambda: twins.prop(THING, "pressure", "tubing") == 200.0 and status() == "online"
        )


async def test_an_exception_reply_marks_only_that_block_bad(server: ModbusRegisterServer) -> None:
    await server.write(1, Table.HOLDING, 0, encode(5.0, DataType.FLOAT32))
    points = [
        {"name": "good", "thing": THING, "feature": "values", "property": "good", "address": 0},
        # Past the end of the server's 512 registers: the device answers with an exception.
        {"name": "missing", "thing": THING, "feature": "values", "property": "missing", "address": 600},
    ]
    async with (
        WatchedTwins([THING]) as twins,
        Gateway(
            _gateway(points, server.port), TwinSink(twins.store), queue=CommandQueue(":memory:", 100)
        ) as gw,
    ):
        await twins.wait_for(lambda: twins.prop(THING, "values", "good") == 5.0)
        poller = gw.modbus[0]
        assert poller.online
        assert {k: q.value for k, q in poller.quality().items()} == {"good": "good", "missing": "bad"}
    assert twins.prop(THING, "values", "missing") is None
    assert twins.prop(THING, "connectivity", "status") == "online"
