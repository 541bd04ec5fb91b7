"""OPC-UA simulator: the demo well pad as variables of an asyncua server, with source timestamps."""

from __future__ import annotations

import logging
import socket
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from asyncua import ua
from asyncua.server.server import Server

from centinela.adapters.sim_refresh import WellPadRefresher
from centinela.adapters.wellpad import POINTS, RIG
from centinela.ports import Clock

__all__ = ["NAMESPACE_URI", "OpcuaWellPadSimulator", "free_port", "node_id", "wellpad_opcua_mapping"]

NAMESPACE_URI = "urn:centinela:wellpad"
"""Namespace of the simulated variables; it is the server's first own namespace, index 2."""

log = logging.getLogger(__name__)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on `host` right now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def node_id(thing: str, feature: str, prop: str) -> str:
    """The string node id of a simulated point, e.g. `ns=2;s=rig-01.drilling.wob`."""
    return f"ns=2;s={thing.split(':')[1]}.{feature}.{prop}"


def wellpad_opcua_mapping(
    url: str, *, things: tuple[str, ...] = (RIG,), security: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The adapter mapping (a YAML-ready dict) that subscribes to the simulated points of `things`."""
    points = [
        {
            "name": f"{p.thing.split(':')[1]}.{p.feature}.{p.property}",
            "thing": p.thing,
            "feature": p.feature,
            "property": p.property,
            "node": node_id(p.thing, p.feature, p.property),
            "unit": p.unit,
        }
        for p in POINTS
        if p.thing in things
    ]
    endpoint: dict[str, Any] = {"name": "wellpad", "url": url, "points": points}
    if security:
        endpoint["security"] = security
    return {"name": "wellpad-opcua", "output": "twin", "opcua": [endpoint]}


class OpcuaWellPadSimulator(WellPadRefresher):
    """The demo well pad over OPC-UA; values refreshed from `WellPad` every `update_interval`.

    With `certificate` and `private_key` the server also offers Basic256Sha256 Sign and
    SignAndEncrypt. `stop()` / `start()` restart it on the same port (a server restart).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = 0,
        update_interval: float = 0.5,
        cycle: float | None = None,
        certificate: Path | None = None,
        private_key: Path | None = None,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(seed=seed, cycle=cycle, interval=update_interval, clock=clock)
        self.host = host
        self.port = port or free_port(host)
        self._certificate = certificate
        self._private_key = private_key
        self._server: Server | None = None
        self._variables: dict[str, Any] = {}

    @property
    def url(self) -> str:
        return f"opc.tcp://{self.host}:{self.port}/centinela/"

    async def start(self) -> None:
        if self._server is not None:
            return
        server = Server()
        await server.init()
        server.set_endpoint(self.url)
        server.set_server_name("Centinela well-pad simulator")
        policies = [ua.SecurityPolicyType.NoSecurity]
        if self._certificate and self._private_key:
            await server.load_certificate(str(self._certificate))
            await server.load_private_key(str(self._private_key))
            policies += [
                ua.SecurityPolicyType.Basic256Sha256_Sign,
                ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt,
            ]
        server.set_security_policy(policies)
        idx = await server.register_namespace(NAMESPACE_URI)
        values = self.model.sample(self._clock.now() - self.started_at)
        objects: dict[str, Any] = {}
        self._variables = {}
        for p in POINTS:
            name = p.thing.split(":")[1]
            if name not in objects:
                objects[name] = await server.nodes.objects.add_object(f"ns={idx};s={name}", name)
            nid = f"ns={idx};s={name}.{p.feature}.{p.property}"
            initial = values.get(p.key(), p.base)
            self._variables[p.key()] = await objects[name].add_variable(
                nid, f"{p.feature}.{p.property}", initial
            )
        await server.start()
        self._server = server
        self._start_refresh("opcua-wellpad-simulator")

    async def stop(self) -> None:
        await self._stop_refresh()
        server, self._server = self._server, None
        if server is not None:
            await server.stop()

    async def update(self, elapsed: float) -> None:
        """Write the model's values at `elapsed` seconds, stamped with that source time."""
        stamp = datetime.fromtimestamp(self.started_at + elapsed, UTC)
        for key, value in self.model.sample(elapsed).items():
            var = self._variables.get(key)
            if var is not None:
                dv = ua.DataValue(ua.Variant(value, ua.VariantType.Double), SourceTimestamp=stamp)  # type: ignore[arg-type]
                await var.write_value(dv)

    async def write(self, thing: str, feature: str, prop: str, value: ua.DataValue) -> None:
        """Write one variable as the device would (tests use it for status codes and timestamps)."""
        await self._variables[f"{thing}/{feature}/{prop}"].write_value(value)

    async def __aenter__(self) -> Self:
        self.started_at = self._clock.now()
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()
