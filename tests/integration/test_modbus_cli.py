"""The command line end to end: `centinela simulate modbus` and `centinela adapters run` as processes."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
import yaml

from centinela.adapters.sim_modbus import wellpad_modbus_mapping
from centinela.adapters.sim_opcua import free_port
from centinela.adapters.wellpad import WELLS
from centinela.twin.store import EmbeddedTwinStore

pytestmark = pytest.mark.integration

CLI = [str(Path(sys.executable).with_name("centinela"))]


async def test_simulate_then_run_fills_the_twin_store(tmp_path: Path) -> None:
    port = free_port()
    simulator = await asyncio.create_subprocess_exec(
        *CLI, "simulate", "modbus", "--port", str(port), "--seed", "3", "--duration", "20",
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert simulator.stdout is not None
        banner = await asyncio.wait_for(simulator.stdout.readline(), 20)
        assert f"modbus://127.0.0.1:{port}" in banner.decode()
        mapping = tmp_path / "pad.yaml"
        mapping.write_text(yaml.safe_dump(wellpad_modbus_mapping("127.0.0.1", port, poll_interval=0.2)))
        db = tmp_path / "twins.sqlite"
        run = await asyncio.create_subprocess_exec(
            *CLI, "adapters", "run", str(mapping), "--twin-store", f"sqlite:///{db}",
            "--buffer", str(tmp_path / "queue.sqlite"), "--duration", "2",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(run.communicate(), 30)
        assert run.returncode == 0, err.decode()
        stats = dict(item.split("=") for item in out.decode().split())
        assert int(stats["readings"]) >= 40 and stats["dropped"] == "0"
    finally:
        simulator.terminate()
        await simulator.wait()
    async with EmbeddedTwinStore.from_url(f"sqlite:///{db}") as store:
        well = await store.retrieve(WELLS[0])
    assert well["features"]["connectivity"]["properties"]["status"] == "online"
    assert 2000 < well["features"]["pressure"]["properties"]["tubing"] < 3300
