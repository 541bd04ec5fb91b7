"""Adapter throughput: readings/s one adapter process sustains from simulators into the twin (and Kafka).

- Modbus: one simulator process with 100 devices (unit ids) x 50 holding registers (one uint16 point
  each). Ours: block reads (one request per device per poll) and per-thing batched merge commands.
  Baseline: the naive adapter, one request per register and one twin merge per reading.
- OPC-UA: one server process with 5,000 variables, all rewritten continuously. Ours: subscription
  into the twin through the gateway. Baseline: a bare asyncua subscription that only counts
  notifications (the client library's ceiling on this machine).
- Kafka: the same gateways into a Kafka topic, only when a broker answers at CENTINELA_KAFKA.

The simulators run in child processes so that the adapter process is measured alone.
"""

from __future__ import annotations

import asyncio
import json
import logging
import multiprocessing as mp
import os
import socket
import sys
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

DEVICES, REGISTERS, OPCUA_ITEMS = 100, 50, 5000
SECONDS = float(os.environ.get("BENCH_SECONDS", "6"))


# ------------------------------------------------------------------ simulator processes


def _modbus_child(conn: Any) -> None:
    from centinela.adapters.config import Table
    from centinela.adapters.sim_modbus import ModbusRegisterServer

    async def main() -> None:
        async with ModbusRegisterServer(range(1, DEVICES + 1), size=REGISTERS) as server:
            for unit in range(1, DEVICES + 1):
                await server.write(unit, Table.HOLDING, 0, list(range(REGISTERS)))
            conn.send(server.port)
            await asyncio.get_running_loop().run_in_executor(None, conn.recv)

    asyncio.run(main())


def _opcua_child(conn: Any) -> None:
    logging.disable(logging.WARNING)
    from asyncua import ua
    from asyncua.server.server import Server

    from centinela.adapters.sim_opcua import free_port

    async def main() -> None:
        port = free_port()
        server = Server()
        await server.init()
        server.set_endpoint(f"opc.tcp://127.0.0.1:{port}/bench/")
        idx = await server.register_namespace("urn:centinela:bench")
        folder = await server.nodes.objects.add_object(f"ns={idx};s=bench", "bench")
        variables = [await folder.add_variable(f"ns={idx};s=v{i}", f"v{i}", 0.0) for i in range(OPCUA_ITEMS)]
        async with server:
            conn.send(port)
            stop = asyncio.get_running_loop().run_in_executor(None, conn.recv)
            n = 0
            started = time.perf_counter()
            while not stop.done():
                n += 1
                for i, var in enumerate(variables):
                    await var.write_value(ua.DataValue(ua.Variant(float(n), ua.VariantType.Double)))
                    if i % 100 == 99:
                        await asyncio.sleep(0)  # let the server answer requests and publish
                await asyncio.sleep(0.05)
            conn.send(n * OPCUA_ITEMS / (time.perf_counter() - started))

    asyncio.run(main())


class Child:
    def __init__(self, target: Any) -> None:
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=target, args=(child,), daemon=True)
        self.report: Any = None

    def __enter__(self) -> int:
        self.process.start()
        if not self.conn.poll(120):
            raise RuntimeError("The simulator process did not start within 120 s.")
        return int(self.conn.recv())

    def __exit__(self, *exc: object) -> None:
        self.conn.send("stop")
        try:
            if self.conn.poll(10):
                self.report = self.conn.recv()
        except EOFError:
            pass
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()


# ------------------------------------------------------------------ adapters


async def _gateway_rate(config: Any, sink: Any) -> tuple[float, dict[str, int]]:
    from centinela.adapters.buffer import CommandQueue
    from centinela.adapters.gateway import Gateway

    async with Gateway(config, sink, queue=CommandQueue(":memory:", 1_000_000)) as gateway:
        points = sum(len(d.points) for d in config.modbus) + sum(len(e.points) for e in config.opcua)
        async with asyncio.timeout(120):  # connect, subscribe, first values of every point
            while gateway.flushed < points:
                await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)
        # Readings handed to the output (not merely read): what the adapter sustains end to end.
        start_readings, start = gateway.flushed, time.perf_counter()
        await asyncio.sleep(SECONDS)
        rate = (gateway.flushed - start_readings) / (time.perf_counter() - start)
        stats = gateway.stats()
    return rate, stats


def _modbus_config(port: int) -> Any:
    from centinela.adapters.config import GatewayConfig

    devices = [
        {
            "name": f"d{unit}", "port": port, "unit": unit, "poll_interval": 0.01, "timeout": 5.0,
            "points": [
                {"name": f"r{a}", "thing": f"org.acme.bench:dev-{unit}", "feature": "regs",
                 "property": f"r{a}", "address": a, "type": "uint16"}
                for a in range(REGISTERS)
            ],
        }
        for unit in range(1, DEVICES + 1)
    ]  # fmt: skip
    return GatewayConfig.model_validate({"name": "bench", "batch_interval": 0.05, "modbus": devices})


async def _naive_modbus(port: int, store: Any) -> float:
    """One request per register, one merge per reading: what a first adapter usually does."""
    from pymodbus.client import AsyncModbusTcpClient

    count = 0

    async def device(unit: int, deadline: float) -> None:
        nonlocal count
        client = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=5, retries=0, reconnect_delay=0)
        await client.connect()
        thing = f"org.acme.bench:dev-{unit}"
        while time.perf_counter() < deadline:
            for address in range(REGISTERS):
                response = await client.read_holding_registers(address, count=1, device_id=unit)
                value = {"regs": {"properties": {f"r{address}": response.registers[0]}}}
                await store.merge(thing, "/features", value)
                count += 1
        client.close()

    start = time.perf_counter()
    await asyncio.gather(*(device(u, start + SECONDS) for u in range(1, DEVICES + 1)))
    return count / (time.perf_counter() - start)


def _opcua_config(port: int) -> Any:
    from centinela.adapters.config import GatewayConfig

    points = [
        {"name": f"v{i}", "thing": f"org.acme.bench:ua-{i // 50}", "feature": "values",
         "property": f"v{i % 50}", "node": f"ns=2;s=v{i}"}
        for i in range(OPCUA_ITEMS)
    ]  # fmt: skip
    endpoint = {
        "name": "ua", "url": f"opc.tcp://127.0.0.1:{port}/bench/", "publishing_interval": 0.1,
        "sampling_interval": 0.0, "timeout": 30.0, "points": points,
    }  # fmt: skip
    return GatewayConfig.model_validate({"name": "bench-ua", "batch_interval": 0.05, "opcua": [endpoint]})


async def _bare_opcua(port: int) -> float:
    from asyncua.client.client import Client

    count = 0

    class Handler:
        def datachange_notification(self, node: Any, val: Any, data: Any) -> None:
            nonlocal count
            count += 1

    client = Client(f"opc.tcp://127.0.0.1:{port}/bench/", timeout=30, watchdog_intervall=30)
    await client.connect()
    try:
        sub = await client.create_subscription(100, Handler())
        nodes = [client.get_node(f"ns=2;s=v{i}") for i in range(OPCUA_ITEMS)]
        await sub.subscribe_data_change(nodes, sampling_interval=0)
        async with asyncio.timeout(120):  # first values of every item
            while count < OPCUA_ITEMS:
                await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)
        start_count, start = count, time.perf_counter()
        await asyncio.sleep(SECONDS)
        return (count - start_count) / (time.perf_counter() - start)
    finally:
        await client.disconnect()


def _kafka_url() -> str | None:
    url = os.environ.get("CENTINELA_KAFKA", "kafka://127.0.0.1:59092")
    parts = urlsplit(url)
    if parts.scheme != "kafka":
        return None
    host, _, port = parts.netloc.split(",")[0].partition(":")
    try:
        with socket.create_connection((host, int(port or 9092)), timeout=1):
            return url
    except OSError:
        return None


async def main() -> None:
    from centinela.adapters.output import TwinSink
    from centinela.adapters.sinks import open_sink
    from centinela.twin.store import EmbeddedTwinStore

    logging.disable(logging.WARNING)
    results: dict[str, Any] = {}
    kafka = _kafka_url()
    with Child(_modbus_child) as port:
        async with EmbeddedTwinStore() as store:
            results["modbus_twin"], stats = await _gateway_rate(
                _modbus_config(port), TwinSink(store, create_missing=True)
            )
            print(f"modbus -> twin (ours):     {results['modbus_twin']:>10.0f} readings/s  {stats}")
        async with EmbeddedTwinStore() as store:
            for unit in range(1, DEVICES + 1):
                await store.create(f"org.acme.bench:dev-{unit}", {})
            results["modbus_naive"] = await _naive_modbus(port, store)
            print(
                f"modbus -> twin (baseline): {results['modbus_naive']:>10.0f} readings/s"
                "  (one read, one merge per register)"
            )
        if kafka:
            sink = await open_sink(f"{kafka}/bench.{uuid.uuid4().hex[:6]}")
            results["modbus_kafka"], stats = await _gateway_rate(_modbus_config(port), sink)
            print(f"modbus -> kafka (ours):    {results['modbus_kafka']:>10.0f} readings/s  {stats}")
        else:
            print("modbus -> kafka: skipped, no broker reachable at CENTINELA_KAFKA")
    opcua = Child(_opcua_child)
    with opcua as port:
        results["opcua_bare"] = await _bare_opcua(port)
        print(f"opc-ua bare client (baseline): {results['opcua_bare']:>8.0f} notifications/s")
        async with EmbeddedTwinStore() as store:
            results["opcua_twin"], stats = await _gateway_rate(
                _opcua_config(port), TwinSink(store, create_missing=True)
            )
            print(f"opc-ua -> twin (ours):     {results['opcua_twin']:>10.0f} readings/s  {stats}")
        if kafka:
            sink = await open_sink(f"{kafka}/bench.{uuid.uuid4().hex[:6]}")
            results["opcua_kafka"], stats = await _gateway_rate(_opcua_config(port), sink)
            print(f"opc-ua -> kafka (ours):    {results['opcua_kafka']:>10.0f} readings/s  {stats}")
        else:
            print("opc-ua -> kafka: skipped, no broker reachable at CENTINELA_KAFKA")
    print(f"opc-ua server process wrote {opcua.report or 0:.0f} values/s (the ceiling for both)")
    summary = {
        "bench": "adapters",
        "ours_per_s": round(results["modbus_twin"]),
        "baseline_per_s": round(results["modbus_naive"]),
        "ratio": round(results["modbus_twin"] / results["modbus_naive"], 2),
        "opcua_ours_per_s": round(results["opcua_twin"]),
        "opcua_baseline_per_s": round(results["opcua_bare"]),
        "opcua_ratio": round(results["opcua_twin"] / results["opcua_bare"], 2)
        if results["opcua_bare"]
        else None,
        "opcua_server_writes_per_s": round(opcua.report or 0),
        "kafka": bool(kafka),
        **{f"{k}_per_s": round(v) for k, v in results.items() if k.endswith("kafka")},
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
