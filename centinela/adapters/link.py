"""Online/offline state and per-point quality of one device connection, shared by Modbus and OPC-UA."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Generic, Protocol, TypeVar

from centinela.adapters.readings import Quality

__all__ = ["DeviceLink"]

log = logging.getLogger(__name__)


class _Named(Protocol):
    @property
    def name(self) -> str: ...


S = TypeVar("S", bound=_Named)


class DeviceLink(Generic[S]):
    """A connection to one device: its points' quality, whether it answers, when it last did.

    Going offline marks every point `BAD`; each change of state is reported once to `on_status`
    with the time the device was last read.
    """

    KIND = "Device"

    def __init__(
        self,
        source: S,
        points: Iterable[str],
        on_status: Callable[[S, bool, float | None], None],
    ) -> None:
        self._source = source
        self._on_status = on_status
        self._quality = dict.fromkeys(points, Quality.BAD)
        self._online: bool | None = None
        self.last_seen: float | None = None

    def quality(self) -> dict[str, Quality]:
        """Quality of each point, by point name."""
        return dict(self._quality)

    @property
    def online(self) -> bool:
        return bool(self._online)

    def _set_online(self, online: bool) -> None:
        if online is not self._online:
            self._online = online
            if not online:
                self._quality = dict.fromkeys(self._quality, Quality.BAD)
            log.info("%s %s is %s.", self.KIND, self._source.name, "online" if online else "offline")
            self._on_status(self._source, online, self.last_seen)
