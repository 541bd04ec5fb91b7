"""Modbus TCP simulators: a register server on loopback and the demo well pad served over it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType as SimType
from pymodbus.simulator import SimData, SimDevice

from centinela.adapters.codec import DataType, encode
from centinela.adapters.config import Table
from centinela.adapters.sim_refresh import WellPadRefresher
from centinela.adapters.wellpad import POINTS, THINGS, PointSpec
from centinela.ports import Clock

__all__ = [
    "ModbusRegisterServer",
    "ModbusWellPadSimulator",
    "RegisterSpec",
    "wellpad_modbus_layout",
    "wellpad_modbus_mapping",
]

_WRITE_CODE = {Table.COIL: 15, Table.DISCRETE: 2, Table.HOLDING: 16, Table.INPUT: 4}


class ModbusRegisterServer:
    """A pymodbus TCP server with four tables of `size` entries for each unit id.

    Values written with `write` survive `stop()` / `start()` (a device power cycle keeps its
    registers), and `start()` after `stop()` binds the same port again.
    """

    def __init__(self, units: Iterable[int], *, host: str = "127.0.0.1", port: int = 0, size: int = 1024):
        self.host = host
        self.port = port
        self._size = size
        self._units = sorted(set(units))
        self._shadow: dict[tuple[int, Table], list[int | bool]] = {
            (u, t): [False if t.is_bits else 0] * size for u in self._units for t in Table
        }
        self._server: ModbusTcpServer | None = None

    def _device(self, unit: int) -> SimDevice:
        def block(table: Table, kind: SimType) -> list[SimData]:
            return [SimData(0, values=list(self._shadow[(unit, table)]), datatype=kind)]

        return SimDevice(
            id=unit,
            simdata=(
                block(Table.COIL, SimType.BITS),
                block(Table.DISCRETE, SimType.BITS),
                block(Table.HOLDING, SimType.REGISTERS),
                block(Table.INPUT, SimType.REGISTERS),
            ),
        )

    @property
    def running(self) -> bool:
        return self._server is not None

    async def start(self) -> None:
        if self._server is not None:
            return
        server = ModbusTcpServer([self._device(u) for u in self._units], address=(self.host, self.port))
        await server.serve_forever(background=True)
        self._server = server
        sockets = getattr(server.transport, "sockets", None)
        if sockets:
            self.port = int(sockets[0].getsockname()[1])

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            await server.shutdown()  # type: ignore[no-untyped-call]

    async def write(self, unit: int, table: Table, address: int, values: Sequence[int | bool]) -> None:
        """Set registers (or bits) as the device would hold them."""
        shadow = self._shadow[(unit, table)]
        shadow[address : address + len(values)] = list(values)
        if self._server is not None:
            await self._server.async_setValues(unit, _WRITE_CODE[table], address, list(values))

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()


@dataclass(frozen=True, slots=True)
class RegisterSpec:
    """Where a well-pad point lives on the simulated devices."""

    point: PointSpec
    unit: int
    table: Table
    address: int
    type: DataType
    scale: float = 1.0


# A few points are scaled integers in input registers, as ESP drives usually expose them.
_SCALED = {("esp", "frequency"): (DataType.UINT16, 0.01), ("esp", "current"): (DataType.INT16, 0.1)}


def wellpad_modbus_layout() -> list[RegisterSpec]:
    """Unit id per thing (1-3 wells, 4 rig); float32 holding registers, scaled ints for the ESP drive."""
    out: list[RegisterSpec] = []
    for unit, thing in enumerate(THINGS, start=1):
        holding = inputs = 0
        for spec in (p for p in POINTS if p.thing == thing):
            scaled = _SCALED.get((spec.feature, spec.property))
            if scaled:
                out.append(RegisterSpec(spec, unit, Table.INPUT, inputs, scaled[0], scaled[1]))
                inputs += 1
            else:
                out.append(RegisterSpec(spec, unit, Table.HOLDING, holding, DataType.FLOAT32))
                holding += 2
    return out


def wellpad_modbus_mapping(host: str, port: int, *, poll_interval: float = 0.5) -> dict[str, Any]:
    """The adapter mapping (as a YAML-ready dict) that reads the simulated well pad."""
    devices: list[dict[str, Any]] = []
    layout = wellpad_modbus_layout()
    for unit, thing in enumerate(THINGS, start=1):
        points = []
        for r in (r for r in layout if r.unit == unit):
            point: dict[str, Any] = {
                "name": f"{r.point.feature}.{r.point.property}",
                "thing": thing,
                "feature": r.point.feature,
                "property": r.point.property,
                "table": r.table.value,
                "address": r.address,
                "type": r.type.value,
                "unit": r.point.unit,
                "deadband": 0.0,
            }
            if r.scale != 1.0:
                point["scale"] = r.scale
            points.append(point)
        name = thing.split(":")[1]
        devices.append(
            {
                "name": name,
                "host": host,
                "port": port,
                "unit": unit,
                "poll_interval": poll_interval,
                "timeout": 1.0,
                "points": points,
            }
        )
    return {"name": "wellpad-modbus", "output": "twin", "modbus": devices}


class ModbusWellPadSimulator(WellPadRefresher):
    """The demo well pad over Modbus TCP: registers refreshed from `WellPad` every `update_interval`."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = 0,
        update_interval: float = 0.5,
        cycle: float | None = None,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(seed=seed, cycle=cycle, interval=update_interval, clock=clock)
        self.layout = wellpad_modbus_layout()
        self.server = ModbusRegisterServer({r.unit for r in self.layout}, host=host, port=port)

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def port(self) -> int:
        return self.server.port

    async def update(self, elapsed: float) -> None:
        """Write the model's values at `elapsed` seconds into the registers."""
        values = self.model.sample(elapsed)
        for r in self.layout:
            value = values.get(r.point.key())
            if value is not None:
                await self.server.write(r.unit, r.table, r.address, encode(value / r.scale, r.type))

    async def __aenter__(self) -> Self:
        self.started_at = self._clock.now()
        await self.update(0.0)
        await self.server.start()
        self._start_refresh("modbus-wellpad-simulator")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._stop_refresh()
        await self.server.stop()
