"""Modbus readings into the embedded twin service over Ditto's HTTP API (the `ditto+http://` output)."""

from __future__ import annotations

from pathlib import Path

import pytest
from adapter_support import WatchedTwins

from centinela.adapters.buffer import CommandQueue
from centinela.adapters.codec import DataType, encode
from centinela.adapters.config import GatewayConfig, Table
from centinela.adapters.gateway import Gateway
from centinela.adapters.sim_modbus import ModbusRegisterServer
from centinela.adapters.sinks import open_sink
from centinela.twin.http import TwinServer, TwinServiceSettings

pytestmark = pytest.mark.integration

WELL = "org.acme.wells:well-01"


async def _run(tmp_path: Path) -> tuple[WatchedTwins, dict[str, int], dict[str, object]]:
    settings = TwinServiceSettings.model_validate(
        {"port": 0, "users": {"edge": {"password": "pw-for-tests", "namespaces": ["org.acme.wells"]}}}
    )
    async with ModbusRegisterServer([1]) as device, WatchedTwins([WELL]) as twins:
        await device.write(1, Table.HOLDING, 0, encode(2450.5, DataType.FLOAT32))
        async with TwinServer(twins.store, settings) as server:
            url = server.url.replace("http://", "ditto+http://edge:pw-for-tests@")
            config = GatewayConfig.model_validate({
                "name": "edge", "batch_interval": 0.0,
                "modbus": [{"name": "w1", "port": device.port, "poll_interval": 0.05, "points": [
                    {"name": "tubing", "thing": WELL, "feature": "pressure", "property": "tubing",
                     "address": 0}]}],
            })  # fmt: skip
            sink = await open_sink(url)
            async with Gateway(config, sink, queue=CommandQueue(tmp_path / "q.sqlite", 100)) as gateway:
                await twins.wait_for(lambda: twins.prop(WELL, "pressure", "tubing") == 2450.5)
                stats = gateway.stats()
        meta = await twins.store.retrieve(WELL, "/", fields="_metadata")
    return twins, stats, meta


async def test_merges_reach_the_twin_service_over_http(tmp_path: Path) -> None:
    twins, stats, _ = await _run(tmp_path)
    assert stats["rejected"] == 0 and stats["queued"] == 0
    assert twins.prop(WELL, "connectivity", "status") == "online"
    assert twins.events[-1].headers["centinela-origin"] == "edge"


@pytest.mark.xfail(
    strict=True,
    reason="the twin service's HTTP routes pass only correlation-id, condition, centinela-origin and "
    "response-required, so put-metadata and centinela-source-time do not reach the store",
)
async def test_source_times_reach_the_twin_service_over_http(tmp_path: Path) -> None:
    twins, _, meta = await _run(tmp_path)
    assert "centinela-source-time" in twins.value_events("pressure")[0].headers
    source = meta["_metadata"]["features"]["pressure"]["properties"]["tubing"]["sourceTime"]  # type: ignore[index]
    assert isinstance(source, int) and source > 1_600_000_000_000
