"""Modbus TCP adapter: block reads planned from the mapping, polled per device, with reconnect."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from centinela.adapters.codec import DataType, decode
from centinela.adapters.config import ModbusDevice, ModbusPoint, Table
from centinela.adapters.link import DeviceLink
from centinela.adapters.readings import DeadbandFilter, Quality, Reading, Scalar
from centinela.clock import SystemClock
from centinela.ports import Clock

__all__ = ["MAX_BITS", "MAX_REGISTERS", "Block", "ModbusPoller", "decode_block", "plan_blocks"]

log = logging.getLogger(__name__)

MAX_REGISTERS = 125
"""Most registers one read may ask for (Modbus application protocol, function codes 3 and 4)."""
MAX_BITS = 2000
"""Most coils or discrete inputs one read may ask for (function codes 1 and 2)."""

ReadingsCallback = Callable[[Sequence[Reading]], None]
StatusCallback = Callable[[ModbusDevice, bool, "float | None"], None]


@dataclass(frozen=True, slots=True)
class Block:
    """One read request: `count` registers or bits of `table` from `start`, serving `points`."""

    table: Table
    start: int
    count: int
    points: tuple[ModbusPoint, ...]


def plan_blocks(device: ModbusDevice) -> list[Block]:
    """Coalesce the device's points into as few reads as the protocol limits and `max_gap` allow."""
    blocks: list[Block] = []
    for table in Table:
        limit = MAX_BITS if table.is_bits else MAX_REGISTERS
        points = sorted((p for p in device.points if p.table is table), key=lambda p: (p.address, p.bit or 0))
        current: list[ModbusPoint] = []
        start = end = 0
        for point in points:
            p_end = point.address + point.width
            if current and point.address - end <= device.max_gap and max(end, p_end) - start <= limit:
                current.append(point)
                end = max(end, p_end)
                continue
            if current:
                blocks.append(Block(table, start, end - start, tuple(current)))
            current, start, end = [point], point.address, p_end
        if current:
            blocks.append(Block(table, start, end - start, tuple(current)))
    return blocks


def _value(point: ModbusPoint, device: ModbusDevice, block: Block, data: Sequence[int | bool]) -> Scalar:
    offset = point.address - block.start
    if point.table.is_bits:
        return bool(data[offset])
    if point.type is DataType.BOOL:
        return bool((int(data[offset]) >> (point.bit or 0)) & 1)
    raw = decode(
        [int(v) for v in data[offset : offset + point.width]],
        point.type,
        point.byte_order or device.byte_order,
        point.word_order or device.word_order,
    )
    if point.scale == 1.0 and point.offset == 0.0:
        return raw
    return raw * point.scale + point.offset


def decode_block(
    device: ModbusDevice, block: Block, data: Sequence[int | bool], time: float
) -> list[Reading]:
    """Turn the values of one block read into scaled readings."""
    return [
        Reading(p.thing, p.feature, p.property, _value(p, device, block, data), time, Quality.GOOD, p.name)
        for p in block.points
    ]


class ModbusPoller(DeviceLink[ModbusDevice]):
    """Polls one Modbus TCP device; reconnects with exponential backoff while it is unreachable.

    `on_readings` receives good readings (after each point's deadband); `on_status` is called when
    the device goes online or offline, with the time it was last read. While the device is down
    its points have `BAD` quality (`quality()`), and nothing is reported for them.
    """

    KIND = "Modbus device"

    def __init__(
        self,
        device: ModbusDevice,
        on_readings: ReadingsCallback,
        on_status: StatusCallback,
        *,
        clock: Clock | None = None,
        ready: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        super().__init__(device, (p.name for p in device.points), on_status)
        self.device = device
        self._ready = ready
        self.blocks = plan_blocks(device)
        self._on_readings = on_readings
        self._clock = clock or SystemClock()
        self._filter = DeadbandFilter()
        self.polls = 0
        self.reads = 0
        self.stopping = False

    async def run(self) -> None:
        """Poll until cancelled."""
        d = self.device
        client = AsyncModbusTcpClient(
            d.host, port=d.port, timeout=d.timeout, retries=0, reconnect_delay=0, name=d.name
        )
        backoff = d.backoff_initial
        self.stopping = False
        try:
            while not self.stopping:
                if not client.connected and not await client.connect():
                    self._set_online(False)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, d.backoff_max)
                    continue
                if self._ready is not None:
                    await self._ready()  # backpressure: the output is behind
                started = self._clock.now()
                try:
                    await self.poll_once(client)
                except (ModbusException, TimeoutError, OSError) as exc:
                    log.warning("Modbus device %s at %s:%s failed: %s", d.name, d.host, d.port, exc)
                    client.close()
                    self._set_online(False)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, d.backoff_max)
                    continue
                backoff = d.backoff_initial
                await self._clock.sleep_until(started + d.poll_interval)
        finally:
            client.close()

    def stop(self) -> None:
        """Make `run()` return after the current poll (pymodbus can swallow a task cancellation)."""
        self.stopping = True

    async def poll_once(self, client: AsyncModbusTcpClient) -> None:
        """Read every block once and report the readings; raises when the device is unreachable."""
        d = self.device
        out: list[Reading] = []
        for block in self.blocks:
            response = await self._read(client, block)
            self.reads += 1
            now = self._clock.now()
            if response.isError():
                # The device answered with a Modbus exception: it is up but these points are bad.
                log.warning(
                    "Modbus device %s refused %s %d+%d: %s",
                    d.name,
                    block.table.value,
                    block.start,
                    block.count,
                    response,
                )
                for p in block.points:
                    self._quality[p.name] = Quality.BAD
                continue
            data = response.bits if block.table.is_bits else response.registers
            for reading in decode_block(d, block, data, now):
                self._quality[reading.point] = Quality.GOOD
                point = next(p for p in block.points if p.name == reading.point)
                assert reading.value is not None  # noqa: S101 - decode_block always sets a value
                if self._filter.passes(reading.point, reading.value, point.deadband):
                    out.append(reading)
        self.polls += 1
        self.last_seen = self._clock.now()
        self._set_online(True)
        if out:
            self._on_readings(out)

    async def _read(self, client: AsyncModbusTcpClient, block: Block):  # type: ignore[no-untyped-def]
        unit = self.device.unit
        match block.table:
            case Table.HOLDING:
                call = client.read_holding_registers(block.start, count=block.count, device_id=unit)
            case Table.INPUT:
                call = client.read_input_registers(block.start, count=block.count, device_id=unit)
            case Table.COIL:
                call = client.read_coils(block.start, count=block.count, device_id=unit)
            case Table.DISCRETE:
                call = client.read_discrete_inputs(block.start, count=block.count, device_id=unit)
        return await asyncio.wait_for(call, self.device.timeout * 2)
