"""A gateway: the pollers and subscriptions of one mapping file, feeding one output through the queue."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Self

from centinela.adapters.buffer import CommandQueue, StoreAndForward
from centinela.adapters.config import GatewayConfig, ModbusDevice, OpcuaEndpoint
from centinela.adapters.modbus import ModbusPoller
from centinela.adapters.output import Command, Sink, batch_commands, connectivity_command
from centinela.adapters.readings import Reading
from centinela.clock import SystemClock
from centinela.ports import Clock

if TYPE_CHECKING:
    from centinela.adapters.opcua import OpcuaSubscriber

__all__ = ["Gateway"]

log = logging.getLogger(__name__)


class Gateway:
    """Runs every device of a `GatewayConfig` and sends their readings to `sink`.

    Readings are collected for `batch_interval` seconds, then turned into one merge command per
    thing (see `output.batch_commands`) and sent through store-and-forward. Use it as an async
    context manager; leaving it stops the devices and flushes what was read.
    """

    def __init__(
        self,
        config: GatewayConfig,
        sink: Sink,
        *,
        queue: CommandQueue | None = None,
        clock: Clock | None = None,
        max_pending: int = 50_000,
    ) -> None:
        self.config = config
        self.clock = clock or SystemClock()
        if queue is None:
            path = config.buffer_path or Path(".centinela") / f"{config.name}-queue.sqlite"
            queue = CommandQueue(path, config.buffer_max)
        self.forwarder = StoreAndForward(sink, queue)
        self.modbus = [
            ModbusPoller(d, self._readings, self._modbus_status, clock=self.clock, ready=self._room)
            for d in config.modbus
        ]
        self.opcua: list[OpcuaSubscriber] = []
        if config.opcua:
            # Imported only when used: asyncua is heavy and a Modbus-only gateway does not need it.
            from centinela.adapters.opcua import OpcuaSubscriber as Subscriber

            self.opcua = [
                Subscriber(e, self._readings, self._opcua_status, clock=self.clock) for e in config.opcua
            ]
        self._pending: list[Reading | Command] = []
        self._drained = asyncio.Event()
        self._drained.set()
        self.max_pending = max_pending
        self.flushed = 0
        self._arrived = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.readings = 0

    # ------------------------------------------------------------------ callbacks from devices

    def _readings(self, readings: Sequence[Reading]) -> None:
        self._pending.extend(readings)
        self.readings += len(readings)
        self._arrived.set()
        if len(self._pending) >= self.max_pending:
            self._drained.clear()

    async def _room(self) -> None:
        """Wait while more than `max_pending` readings wait to be sent (Modbus polls wait here)."""
        await self._drained.wait()

    def _status(self, things: set[str], online: bool, last_seen: float | None) -> None:
        now = self.clock.now()
        for thing in sorted(things):
            self._pending.append(connectivity_command(thing, online, last_seen, now, origin=self.config.name))
        self._arrived.set()

    def _modbus_status(self, device: ModbusDevice, online: bool, last_seen: float | None) -> None:
        self._status({p.thing for p in device.points}, online, last_seen)

    def _opcua_status(self, endpoint: OpcuaEndpoint, online: bool, last_seen: float | None) -> None:
        self._status({p.thing for p in endpoint.points}, online, last_seen)

    # ------------------------------------------------------------------ sending

    def _commands(self) -> list[Command]:
        """Turn what arrived into commands, keeping readings and status changes in order."""
        pending, self._pending = self._pending, []
        self._drained.set()
        self.flushed += sum(1 for item in pending if isinstance(item, Reading))
        out: list[Command] = []
        run: list[Reading] = []
        for item in pending:
            if isinstance(item, Reading):
                run.append(item)
                continue
            out.extend(batch_commands(run, origin=self.config.name))
            run = []
            out.append(item)
        out.extend(batch_commands(run, origin=self.config.name))
        return out

    async def flush(self) -> None:
        """Send everything read so far (to the output, or to the queue when it is down)."""
        commands = self._commands()
        if commands:
            await self.forwarder.send(commands)

    async def _send_loop(self) -> None:
        while True:
            await self._arrived.wait()
            self._arrived.clear()
            if self.config.batch_interval:
                await asyncio.sleep(self.config.batch_interval)
            await self.flush()

    # ------------------------------------------------------------------ lifecycle

    def stats(self) -> dict[str, int]:
        """Counters: readings read and flushed; commands sent, replayed, rejected, queued and dropped."""
        f = self.forwarder
        return {
            "readings": self.readings,
            "flushed": self.flushed,
            "sent": f.sent,
            "replayed": f.replayed,
            "rejected": f.rejected,
            "queued": len(f.queue),
            "dropped": f.dropped,
        }

    async def __aenter__(self) -> Self:
        self._tasks = [asyncio.create_task(self.forwarder.run(), name="store-and-forward")]
        self._tasks.append(asyncio.create_task(self._send_loop(), name="gateway-send"))
        for poller in self.modbus:
            self._tasks.append(asyncio.create_task(poller.run(), name=f"modbus-{poller.device.name}"))
        for sub in self.opcua:
            self._tasks.append(asyncio.create_task(sub.run(), name=f"opcua-{sub.endpoint.name}"))
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for poller in self.modbus:
            poller.stop()
        self._drained.set()
        for task in reversed(self._tasks):
            task.cancel()
        for task in self._tasks:
            # A client library may swallow one cancellation (asyncio.wait_for racing a reply):
            # cancel again until the task has really stopped.
            while not task.done():
                await asyncio.wait({task}, timeout=0.5)
                task.cancel()
            if not task.cancelled() and task.exception() is not None:
                log.error("Gateway task %s failed: %r", task.get_name(), task.exception())
        self._tasks = []
        with contextlib.suppress(Exception):
            await self.flush()
        self.forwarder.queue.close()
        await self.forwarder.sink.aclose()
