"""OPC-UA adapter: data-change subscriptions with deadbands, source timestamps and status-code quality."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from asyncua import ua
from asyncua.client.client import Client
from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256
from asyncua.ua.attribute_ids import AttributeIds
from asyncua.ua.uaerrors import UaError

from centinela.adapters.config import OpcuaEndpoint, OpcuaPoint
from centinela.adapters.link import DeviceLink
from centinela.adapters.readings import Quality, Reading
from centinela.clock import SystemClock
from centinela.ports import Clock

__all__ = ["OpcuaSubscriber", "quality_of"]

log = logging.getLogger(__name__)

ReadingsCallback = Callable[[Sequence[Reading]], None]
StatusCallback = Callable[[OpcuaEndpoint, bool, "float | None"], None]


def quality_of(status: ua.StatusCode | None) -> Quality:
    """OPC-UA severity (the two top bits of a status code) as a reading quality."""
    if status is None:
        return Quality.GOOD
    severity = (status.value >> 30) & 0b11
    return {0: Quality.GOOD, 1: Quality.UNCERTAIN}.get(severity, Quality.BAD)


class _Handler:
    """asyncua's subscription handler: turns notifications into readings for the subscriber."""

    def __init__(self, subscriber: OpcuaSubscriber, points: dict[int, OpcuaPoint]) -> None:
        self._subscriber = subscriber
        self._points = points

    def datachange_notification(self, node: Any, val: Any, data: Any) -> None:
        item = data.monitored_item
        point = self._points.get(item.ClientHandle)
        if point is not None:
            self._subscriber.notify(point, item.Value)

    def status_change_notification(self, status: Any) -> None:
        log.warning("OPC-UA subscription of %s changed status: %s", self._subscriber.endpoint.name, status)
        self._subscriber.lost.set()


class OpcuaSubscriber(DeviceLink[OpcuaEndpoint]):
    """Subscribes to the points of one OPC-UA endpoint; reconnects and re-subscribes when it is lost.

    Every data change becomes a reading with the server's source timestamp (the server timestamp,
    then the arrival time, when the source gives none) and the quality of its status code. While
    the endpoint is unreachable its points have `BAD` quality and nothing is reported.
    """

    KIND = "OPC-UA endpoint"

    def __init__(
        self,
        endpoint: OpcuaEndpoint,
        on_readings: ReadingsCallback,
        on_status: StatusCallback,
        *,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(endpoint, (p.name for p in endpoint.points), on_status)
        self.endpoint = endpoint
        self._on_readings = on_readings
        self._clock = clock or SystemClock()
        self.lost = asyncio.Event()
        self.subscriptions = 0
        self.notifications = 0

    def notify(self, point: OpcuaPoint, value: ua.DataValue) -> None:
        """One data change of `point` (called by the subscription handler)."""
        now = self._clock.now()
        self.notifications += 1
        self.last_seen = now
        quality = quality_of(value.StatusCode)
        raw = value.Value.Value if value.Value is not None else None
        stamp: datetime | None = value.SourceTimestamp or value.ServerTimestamp
        time = stamp.timestamp() if stamp is not None else now
        number: float | int | bool | None = None
        if isinstance(raw, bool):
            number = raw
        elif isinstance(raw, int | float):
            number = raw if point.scale == 1.0 and point.offset == 0.0 else raw * point.scale + point.offset
        elif quality is not Quality.BAD:
            log.warning("OPC-UA point %s has a non-numeric value %r.", point.name, raw)
            quality = Quality.BAD
        self._quality[point.name] = quality
        if quality is Quality.BAD:
            number = None
        reading = Reading(point.thing, point.feature, point.property, number, time, quality, point.name)
        self._on_readings([reading])

    async def _connect(self) -> Client:
        e = self.endpoint
        client = Client(e.url, timeout=e.timeout, watchdog_intervall=max(1.0, e.timeout))
        client.application_uri = e.security.application_uri
        if e.username is not None:
            client.set_user(e.username)
        if e.password is not None:
            client.set_password(e.password)
        if e.security.policy == "Basic256Sha256":
            mode = getattr(ua.MessageSecurityMode, e.security.mode)
            server_cert = str(e.security.server_certificate) if e.security.server_certificate else None
            await client.set_security(
                SecurityPolicyBasic256Sha256,
                certificate=str(e.security.certificate),
                private_key=str(e.security.private_key),
                server_certificate=server_cert,
                mode=mode,
            )

        async def on_lost(exc: Exception) -> None:
            log.warning("OPC-UA endpoint %s lost its connection: %s", e.name, exc)
            self.lost.set()

        client.connection_lost_callback = on_lost
        await asyncio.wait_for(client.connect(), e.timeout)
        return client

    def _request(self, handle: int, point: OpcuaPoint, node: Any) -> ua.MonitoredItemCreateRequest:
        sampling = (
            point.sampling_interval
            if point.sampling_interval is not None
            else self.endpoint.sampling_interval
        )
        params = ua.MonitoringParameters(
            ClientHandle=handle, SamplingInterval=sampling * 1000, QueueSize=100, DiscardOldest=True
        )
        if point.deadband:
            params.Filter = ua.DataChangeFilter(
                Trigger=ua.DataChangeTrigger.StatusValue,
                DeadbandType=ua.DeadbandType.Absolute,
                DeadbandValue=point.deadband,
            )
        read = ua.ReadValueId(NodeId=node.nodeid, AttributeId=AttributeIds.Value)
        return ua.MonitoredItemCreateRequest(
            ItemToMonitor=read, MonitoringMode=ua.MonitoringMode.Reporting, RequestedParameters=params
        )

    async def _subscribe(self, client: Client) -> None:
        e = self.endpoint
        points = dict(enumerate(e.points, start=1))
        subscription = await client.create_subscription(e.publishing_interval * 1000, _Handler(self, points))
        requests = [self._request(h, p, client.get_node(p.node)) for h, p in points.items()]
        results = await subscription.create_monitored_items(requests)
        for (_, point), result in zip(points.items(), results, strict=True):
            if isinstance(result, ua.StatusCode):
                log.error(
                    "OPC-UA endpoint %s refused to monitor %s (%s): %s",
                    e.name,
                    point.name,
                    point.node,
                    result,
                )
        self.subscriptions += 1

    async def run(self) -> None:
        """Stay subscribed until cancelled."""
        e = self.endpoint
        backoff = e.backoff_initial
        while True:
            self.lost.clear()
            client: Client | None = None
            try:
                client = await self._connect()
                await self._subscribe(client)
                self.last_seen = self._clock.now()
                self._set_online(True)
                backoff = e.backoff_initial
                await self.lost.wait()
            except (OSError, TimeoutError, UaError, ConnectionError) as exc:
                log.warning("OPC-UA endpoint %s at %s failed: %s", e.name, e.url, exc)
            finally:
                if client is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(client.disconnect(), e.timeout)
            self._set_online(False)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, e.backoff_max)
