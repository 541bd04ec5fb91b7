"""Store-and-forward with real servers: a Modbus device, and a Ditto-style HTTP output that goes away."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from centinela.adapters.buffer import CommandQueue
from centinela.adapters.codec import DataType, encode
from centinela.adapters.config import GatewayConfig, Table
from centinela.adapters.gateway import Gateway
from centinela.adapters.sim_modbus import ModbusRegisterServer
from centinela.adapters.sinks import open_sink

pytestmark = pytest.mark.integration

THING = "org.acme.wells:well-01"


class HttpOutput:
    """A minimal HTTP/1.1 server on loopback answering Ditto's merge PATCH with 204 and keeping them."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, str], Any]] = []
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode().split("\r\n")
                method, path, _ = lines[0].split(" ")
                headers = {k.lower(): v.strip() for k, v in (x.split(":", 1) for x in lines[1:] if ":" in x)}
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                assert method == "PATCH"
                self.received.append((path, headers, json.loads(body)))
                writer.write(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        await self._server.wait_closed()

    def values(self) -> list[float]:
        return [
            body["pressure"]["properties"]["tubing"] for _, _, body in self.received if "pressure" in body
        ]


async def until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Bounded wait for state the gateway exposes only as counters."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


async def _scenario(tmp_path: Path, bound: int) -> tuple[HttpOutput, dict[str, int]]:
    output = HttpOutput()
    await output.start()
    async with ModbusRegisterServer([1]) as device:
        await device.write(1, Table.HOLDING, 0, encode(1.0, DataType.FLOAT32))
        config = GatewayConfig.model_validate({
            "name": "saf", "batch_interval": 0.0,
            "modbus": [{"name": "w1", "port": device.port, "poll_interval": 0.02, "timeout": 0.5, "points": [
                {"name": "tubing", "thing": THING, "feature": "pressure", "property": "tubing", "address": 0,
                 "deadband": 0.0},
            ]}],
        })  # fmt: skip
        sink = await open_sink(f"ditto+http://127.0.0.1:{output.port}")
        queue = CommandQueue(tmp_path / "queue.sqlite", bound)
        gateway = Gateway(config, sink, queue=queue)
        gateway.forwarder._retry_initial = gateway.forwarder._retry_max = 0.05
        async with gateway:
            for value in (2.0, 3.0):
                await until(lambda v=value: output.values()[-1:] == [v - 1])
                await device.write(1, Table.HOLDING, 0, encode(value, DataType.FLOAT32))
            await until(lambda: output.values()[-1:] == [3.0])
            await output.stop()
            for value in range(4, 11):
                readings = gateway.readings
                await device.write(1, Table.HOLDING, 0, encode(float(value), DataType.FLOAT32))
                await until(lambda n=readings: gateway.readings > n)
            await until(lambda: gateway.stats()["queued"] == min(7, bound))
            await output.start()
            await until(lambda: output.values()[-1:] == [10.0])
            await asyncio.wait_for(gateway.forwarder.drained(), 5)
            stats = gateway.stats()
    with contextlib.suppress(Exception):
        await output.stop()
    return output, stats


async def test_output_down_queues_on_disk_and_replays_in_order(tmp_path: Path) -> None:
    output, stats = await _scenario(tmp_path, bound=1000)
    assert output.values() == [float(v) for v in range(1, 11)]
    times = [int(h["centinela-source-time"]) for _, h, b in output.received if "pressure" in b]
    assert times == sorted(times) and len(set(times)) == 10  # original source times, in order
    path, headers, _ = output.received[0]
    assert path == "/api/2/things/org.acme.wells:well-01/features"
    assert headers["content-type"] == "application/merge-patch+json"
    assert stats["dropped"] == 0 and stats["queued"] == 0 and stats["replayed"] >= 7


async def test_at_the_bound_the_oldest_are_dropped_and_counted(tmp_path: Path) -> None:
    output, stats = await _scenario(tmp_path, bound=3)
    assert output.values() == [1.0, 2.0, 3.0, 8.0, 9.0, 10.0]
    assert stats["dropped"] == 4
