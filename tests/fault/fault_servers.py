"""Private servers for fault tests: started with compose/local/services.sh on free ports, stopped after."""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path

from service_urls import ROOT, service_unavailable

SCRIPT = ROOT / "compose" / "local" / "services.sh"


def _free_ports(count: int) -> list[int]:
    """`count` distinct free loopback ports (all held open while choosing, so none repeats)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for s in sockets:
            s.close()


class PrivateServices:
    """One test's own PostgreSQL / Redis / Kafka, in a temporary folder, on free loopback ports."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        pg, redis, kafka, controller = _free_ports(4)
        self.env = {
            **os.environ,
            "CENTINELA_SERVICES_DIR": str(folder),
            "CENTINELA_CACHE_DIR": str(ROOT / ".cache"),
            "CENTINELA_PG_PORT": str(pg),
            "CENTINELA_REDIS_PORT": str(redis),
            "CENTINELA_KAFKA_PORT": str(kafka),
            "CENTINELA_KAFKA_CONTROLLER_PORT": str(controller),
            # Private brokers favour start-up time over peak throughput.
            "CENTINELA_KAFKA_JVM_OPTS": "-Xmx384m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC",
            "CI": "true",  # the script exits non-zero when a service does not start
        }
        self.started: set[str] = set()

    def url(self, name: str) -> str:
        e = self.env
        return {
            "postgres": f"postgresql://centinela@127.0.0.1:{e['CENTINELA_PG_PORT']}/centinela",
            "redis": f"redis://127.0.0.1:{e['CENTINELA_REDIS_PORT']}/0",
            "kafka": f"kafka://127.0.0.1:{e['CENTINELA_KAFKA_PORT']}",
        }[name]

    async def _script(self, action: str, name: str) -> tuple[int, str]:
        proc = await asyncio.create_subprocess_exec(
            "bash", str(SCRIPT), action, name, env=self.env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await asyncio.wait_for(proc.communicate(), 180)
        return proc.returncode or 0, out.decode(errors="replace")

    async def start(self, name: str) -> str:
        if name == "kafka" and not (ROOT / ".cache" / "kafka" / "libs" / ".complete").exists():
            service_unavailable("kafka", "its jars are not in .cache/kafka/libs")
        code, out = await self._script("start", name)
        if code != 0:
            service_unavailable(name, f"services.sh could not start a private {name}:\n{out[-2000:]}")
        self.started.add(name)
        return self.url(name)

    async def stop(self, name: str) -> None:
        code, out = await self._script("stop", name)
        assert code == 0, out

    async def stop_all(self) -> None:
        for name in sorted(self.started):
            await self._script("stop", name)
