"""`centinela demo`, sped up: simulators over Modbus TCP and OPC-UA, the gateway, the engine, alarms."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from centinela.rules.demo import run_demo

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

pytestmark = pytest.mark.integration


async def test_demo_trips_the_scripted_alarms_and_writes_computed_values() -> None:
    lines: list[str] = []
    # Five times faster than real time: 90 simulated seconds in 18 s. (At real time the tubing alarm
    # trips about 45 s in; sped up, connecting to the devices costs more simulated time.)
    summary = await run_demo([EXAMPLES], duration=90.0, speed=5.0, echo=lines.append)

    assert summary.url.startswith("http://127.0.0.1:")
    assert any(line.startswith("Simulators: wells on modbus://127.0.0.1:") for line in lines)
    # Readings came through both protocols: the wells' Modbus registers and the rig's OPC-UA nodes.
    assert summary.computed["org.acme.wells:well-01"]["/production/properties/liquidRate"] > 0
    assert summary.computed["org.acme.rigs:rig-01"]["/drilling/properties/mse"] > 0
    assert summary.readings > 1000

    raised = {(e.rule, e.thing_id) for e in summary.alarms if e.cause == "raised"}
    assert ("HighTubingPressure", "org.acme.wells:well-01") in raised, "\n".join(lines)
    assert ("PossibleKick", "org.acme.rigs:rig-01") in raised, "\n".join(lines)
    event = next(e for e in summary.alarms if e.rule == "HighTubingPressure" and e.cause == "raised")
    assert "limit 3000" in event.message
    shown = re.compile(r"\[t\+\s*[\d.]+s\] CRITICAL HighTubingPressure on org\.acme\.wells:well-01: normal")
    assert any(shown.match(line) for line in lines)
