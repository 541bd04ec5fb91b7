"""OPC-UA adapter against a real asyncua server on loopback, into a twin store."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from adapter_support import WatchedTwins
from asyncua import ua

from centinela.adapters.buffer import CommandQueue
from centinela.adapters.certs import generate_certificate
from centinela.adapters.config import GatewayConfig
from centinela.adapters.gateway import Gateway
from centinela.adapters.output import TwinSink
from centinela.adapters.sim_opcua import OpcuaWellPadSimulator, wellpad_opcua_mapping
from centinela.adapters.wellpad import RIG

pytestmark = pytest.mark.integration


def _config(sim: OpcuaWellPadSimulator, **endpoint: Any) -> GatewayConfig:
    data = wellpad_opcua_mapping(sim.url)
    data["batch_interval"] = 0.0
    data["opcua"][0].update(
        {"publishing_interval": 0.05, "sampling_interval": 0.0, "timeout": 2.0, "backoff_initial": 0.1,
         "backoff_max": 0.3, **endpoint}
    )  # fmt: skip
    return GatewayConfig.model_validate(data)


@pytest.fixture
async def sim() -> AsyncIterator[OpcuaWellPadSimulator]:
    # A long update interval: the test writes the values it checks.
    async with OpcuaWellPadSimulator(update_interval=3600) as simulator:
        yield simulator


def _dv(value: float, when: datetime, status: int = ua.StatusCodes.Good) -> ua.DataValue:
    return ua.DataValue(
        ua.Variant(value, ua.VariantType.Double), StatusCode=ua.StatusCode(status), SourceTimestamp=when
    )  # type: ignore[arg-type]


async def test_subscription_carries_source_timestamps_and_quality(sim: OpcuaWellPadSimulator) -> None:
    async with (
        WatchedTwins([RIG]) as twins,
        Gateway(_config(sim), TwinSink(twins.store), queue=CommandQueue(":memory:", 1000)) as gateway,
    ):
        await twins.wait_for(lambda: twins.prop(RIG, "drilling", "wob") is not None)
        assert twins.prop(RIG, "connectivity", "status") == "online"
        when = datetime(2026, 3, 1, 12, 0, 0, 250_000, tzinfo=UTC)
        await sim.write(RIG, "drilling", "wob", _dv(31.5, when))
        await twins.wait_for(lambda: twins.prop(RIG, "drilling", "wob") == 31.5)
        meta = twins.metadata("/drilling/properties/wob")[-1]
        assert meta == {"sourceTime": int(when.timestamp() * 1000), "quality": "good"}
        # The twin keeps it as Ditto metadata of the property.
        stored = await twins.store.retrieve(RIG, "/", fields="_metadata")
        assert stored["_metadata"]["features"]["drilling"]["properties"]["wob"] == meta
        # Uncertain values are written and flagged; bad ones are not written at all.
        await sim.write(RIG, "drilling", "rpm", _dv(99.0, when, ua.StatusCodes.UncertainLastUsableValue))
        await twins.wait_for(lambda: twins.prop(RIG, "drilling", "rpm") == 99.0)
        assert twins.metadata("/drilling/properties/rpm")[-1]["quality"] == "uncertain"
        merges = len(twins.events)
        await sim.write(RIG, "drilling", "rpm", _dv(55.0, when, ua.StatusCodes.BadSensorFailure))
        await sim.write(RIG, "drilling", "wob", _dv(32.0, when))
        await twins.wait_for(lambda: twins.prop(RIG, "drilling", "wob") == 32.0)
        assert twins.prop(RIG, "drilling", "rpm") == 99.0
        assert len(twins.events) == merges + 1
        sub = gateway.opcua[0]
        assert sub.quality()["rig-01.drilling.rpm"].value == "bad"


async def test_server_restart_resubscribes_and_resumes(sim: OpcuaWellPadSimulator) -> None:
    status: Callable[[], Any] = lambda: twins.prop(RIG, "connectivity", "status")  # noqa: E731
    async with (
        WatchedTwins([RIG]) as twins,
        Gateway(_config(sim), TwinSink(twins.store), queue=CommandQueue(":memory:", 1000)) as gateway,
    ):
        await twins.wait_for(lambda: twins.prop(RIG, "drilling", "wob") is not None and status() == "online")
        await sim.stop()
        await twins.wait_for(lambda: status() == "offline")
        await sim.start()
        await twins.wait_for(lambda: status() == "online")
        when = datetime.now(UTC)
        await sim.write(RIG, "pit", "volume", _dv(777.0, when))
        await twins.wait_for(lambda: twins.prop(RIG, "pit", "volume") == 777.0)
        assert gateway.opcua[0].subscriptions == 2


@pytest.mark.parametrize("mode", ["Sign", "SignAndEncrypt"])
async def test_basic256sha256_with_certificates_from_config(tmp_path: Path, mode: str) -> None:
    server_cert, server_key = tmp_path / "server.der", tmp_path / "server.pem"
    client_cert, client_key = tmp_path / "client.der", tmp_path / "client.pem"
    generate_certificate(server_cert, server_key, uri="urn:freeopcua:python:server", common_name="sim")
    generate_certificate(client_cert, client_key, uri="urn:centinela:adapter", common_name="adapter")
    simulator = OpcuaWellPadSimulator(update_interval=0.2, certificate=server_cert, private_key=server_key)
    security = {"policy": "Basic256Sha256", "mode": mode, "certificate": str(client_cert),
                "private_key": str(client_key), "server_certificate": str(server_cert)}  # fmt: skip
    async with simulator:
        config = _config(simulator, security=security)
        async with (
            WatchedTwins([RIG]) as twins,
            Gateway(config, TwinSink(twins.store), queue=CommandQueue(":memory:", 1000)),
        ):
            await twins.wait_for(lambda: twins.prop(RIG, "drilling", "torque") is not None)
