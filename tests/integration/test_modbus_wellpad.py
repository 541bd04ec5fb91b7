"""The Modbus well-pad simulator read through the example mapping into the embedded twin store."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from adapter_support import WatchedTwins

from centinela.adapters.buffer import CommandQueue
from centinela.adapters.config import GatewayConfig
from centinela.adapters.gateway import Gateway
from centinela.adapters.output import TwinSink
from centinela.adapters.sim_modbus import ModbusWellPadSimulator
from centinela.adapters.wellpad import POINTS, RIG, THINGS, WELLS

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "adapters" / "wellpad-modbus.yaml"


async def test_the_example_mapping_reads_every_point_of_the_simulated_pad() -> None:
    async with ModbusWellPadSimulator(seed=5, update_interval=0.1) as sim:
        data = yaml.safe_load(EXAMPLE.read_text())
        for device in data["modbus"]:
            device.update(port=sim.port, poll_interval=0.1)
        data["batch_interval"] = 0.05
        config = GatewayConfig.model_validate(data)
        async with (
            WatchedTwins(THINGS) as twins,
            Gateway(config, TwinSink(twins.store), queue=CommandQueue(":memory:", 10_000)),
        ):
            await twins.wait_for(
                lambda: all(twins.prop(p.thing, p.feature, p.property) is not None for p in POINTS)
            )
    for point in POINTS:
        value = twins.prop(point.thing, point.feature, point.property)
        assert isinstance(value, float)
        if point.noise and (point.feature, point.property) not in {
            ("pressure", "tubing"),
            ("pit", "volume"),
            ("flow", "out"),
            ("flow", "returnRatio"),
        }:
            assert abs(value - point.base) < 6 * point.noise + 0.1, point.key()
    # Scaled ESP integers come back in engineering units.
    assert twins.prop(WELLS[0], "esp", "frequency") == pytest.approx(58.0, abs=0.5)
    assert twins.prop(WELLS[1], "esp", "current") == pytest.approx(42.0 * 0.94, abs=2.0)
    assert twins.prop(RIG, "drilling", "depth") >= 8500.0
    thing = twins.things[WELLS[0]]
    assert thing["definition"] == "org.acme:producer-well:1.0.0"
    assert thing["attributes"]["limits"]["tubingPressure"] == 3000
