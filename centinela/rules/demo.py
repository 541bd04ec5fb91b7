"""`centinela demo`: the embedded stack, a simulated well pad at 1 Hz and the example rules, live.

The wells' RTUs are served over Modbus TCP and the rig's control system over OPC-UA by the well-pad
simulators; a gateway reads them as a field gateway would and merges the readings into the embedded
twin service, where the engine picks them up like any other twin change.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from centinela.adapters.buffer import CommandQueue
from centinela.adapters.config import GatewayConfig
from centinela.adapters.gateway import Gateway
from centinela.adapters.output import TwinSink
from centinela.adapters.sim_modbus import ModbusWellPadSimulator, wellpad_modbus_mapping
from centinela.adapters.sim_opcua import OpcuaWellPadSimulator, wellpad_opcua_mapping
from centinela.adapters.wellpad import RIG, WellPad
from centinela.rules.loading import load_program
from centinela.rules.output import AlarmEvent, StepOutput
from centinela.rules.stack import EngineConfig, embedded_stack

__all__ = ["DemoSummary", "ScaledClock", "run_demo"]


class ScaledClock:
    """Wall-clock time running `speed` times faster from the moment it is made (1.0 = real time)."""

    def __init__(self, speed: float = 1.0) -> None:
        self.speed = speed
        self._wall0 = time.time()
        self._mono0 = time.monotonic()

    def now(self) -> float:
        return self._wall0 + (time.monotonic() - self._mono0) * self.speed

    async def sleep_until(self, when: float) -> None:
        delay = (when - self.now()) / self.speed
        if delay > 0:
            await asyncio.sleep(delay)


@dataclass(slots=True)
class DemoSummary:
    url: str = ""
    readings: int = 0
    alarms: list[AlarmEvent] = field(default_factory=list)
    computed: dict[str, dict[str, Any]] = field(default_factory=dict)


def _describe(event: AlarmEvent, start: float) -> str:
    return (
        f"[t+{event.time - start:6.1f}s] {event.severity.upper():8} {event.rule} on {event.thing_id}: "
        f"{event.previous} -> {event.state} ({event.cause}) — {event.message}"
    )


def _flatten(prefix: str, value: Any, into: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for key, sub in value.items():
            _flatten(f"{prefix}/{key}", sub, into)
    else:
        into[prefix] = value


async def run_demo(
    paths: Sequence[Path],
    *,
    duration: float = 120.0,
    speed: float = 1.0,
    seed: int = 0,
    port: int = 0,
    echo: Callable[[str], None] = print,
) -> DemoSummary:
    """Run the demo for `duration` simulated seconds; return what happened."""
    program = load_program(paths)
    # asyncua warns about security choices the loopback simulator makes on purpose.
    logging.getLogger("asyncua").setLevel(logging.ERROR)
    clock = ScaledClock(speed)
    summary = DemoSummary()
    start = clock.now()

    def show(out: StepOutput) -> None:
        for event in out.alarms:
            summary.alarms.append(event)
            echo(_describe(event, start))
        for thing_id, patch in out.patches.items():
            flat: dict[str, Any] = {}
            _flatten("", {k: v for k, v in patch.get("features", {}).items() if k != "alarms"}, flat)
            summary.computed.setdefault(thing_id, {}).update(flat)

    with tempfile.TemporaryDirectory(prefix="centinela-demo-") as tmp:
        config = EngineConfig(
            history=f"sqlite:///{Path(tmp) / 'history.db'}", state=None, twins=None, port=port
        )
        async with embedded_stack(program, config, clock=clock, on_output=show) as stack:
            summary.url = stack.url
            echo(f"Twin API: {stack.url}/api/2/things  (HTTP basic user 'ditto', password 'ditto')")
            echo(f"WebSocket: {stack.url.replace('http', 'ws', 1)}/ws/2   history: {tmp}/history.db")
            echo(f"Rules: {', '.join(program.classes)} from {', '.join(program.files)}")
            for thing_id, doc in WellPad.things().items():
                await stack.store.modify(thing_id, "/", {"thingId": thing_id, **doc})
            async with (
                ModbusWellPadSimulator(seed=seed, update_interval=1.0, clock=clock) as wells,
                OpcuaWellPadSimulator(seed=seed, update_interval=1.0, clock=clock) as rig,
            ):
                echo(f"Simulators: wells on modbus://{wells.host}:{wells.port} (units 1-3), rig on {rig.url}")
                gateway = Gateway(
                    _gateway_config(wells.host, wells.port, rig.url),
                    TwinSink(stack.store),
                    queue=CommandQueue(":memory:", 100_000),
                    clock=clock,
                )
                async with gateway:
                    await _watch(clock, start, duration, summary, echo)
                summary.readings = gateway.readings
            await stack.runtime.checkpoint()
    return summary


def _gateway_config(modbus_host: str, modbus_port: int, opcua_url: str) -> GatewayConfig:
    """Wells over Modbus TCP polled at 1 Hz, the rig over OPC-UA subscriptions."""
    modbus = wellpad_modbus_mapping(modbus_host, modbus_port, poll_interval=1.0)["modbus"]
    wells = [device for device in modbus if device["points"][0]["thing"] != RIG]
    opcua = wellpad_opcua_mapping(opcua_url, things=(RIG,))["opcua"]
    return GatewayConfig.model_validate(
        {"name": "demo", "output": "twin", "modbus": wells, "opcua": opcua, "batch_interval": 0.1}
    )


async def _watch(
    clock: ScaledClock,
    start: float,
    duration: float,
    summary: DemoSummary,
    echo: Callable[[str], None],
) -> None:
    """Print the computed values every 10 simulated seconds until `duration` has passed."""
    for elapsed in range(10, int(duration) + 1, 10):
        await clock.sleep_until(start + elapsed)
        for thing_id, values in sorted(summary.computed.items()):
            shown = ", ".join(
                f"{k.strip('/').replace('/properties/', '.')}={_num(v)}" for k, v in sorted(values.items())
            )
            echo(f"[t+{float(elapsed):6.1f}s] {thing_id}: {shown}")
    await clock.sleep_until(start + duration)


def _num(value: Any) -> str:
    return f"{value:.1f}" if isinstance(value, float) else str(value)
