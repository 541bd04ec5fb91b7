"""The embedded twin service: Ditto's HTTP API v2, WebSocket `/ws/2` and SSE over `EmbeddedTwinStore`."""

from __future__ import annotations

from centinela.twin.http.auth import Authenticator, Principal
from centinela.twin.http.config import TokenConfig, TwinServiceSettings, UserConfig
from centinela.twin.http.service import TwinServer, create_app, embedded_service

__all__ = [
    "Authenticator",
    "Principal",
    "TokenConfig",
    "TwinServer",
    "TwinServiceSettings",
    "UserConfig",
    "create_app",
    "embedded_service",
]
