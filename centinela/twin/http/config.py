"""Settings of the embedded twin service: bind address, database, users, tokens and limits."""

from __future__ import annotations

import ipaddress

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from centinela.errors import ConfigError

__all__ = [
    "DEFAULT_PASSWORD",
    "DEFAULT_USER",
    "TokenConfig",
    "TwinServiceSettings",
    "UserConfig",
    "is_loopback",
]

DEFAULT_USER = "ditto"
DEFAULT_PASSWORD = "ditto"  # noqa: S105 - Ditto's documented local-setup user, loopback only
ALL_NAMESPACES = ("*",)


class UserConfig(BaseModel):
    """A user for HTTP basic authentication and the namespaces it may see and change."""

    password: SecretStr
    namespaces: list[str] = Field(default_factory=lambda: list(ALL_NAMESPACES))


class TokenConfig(BaseModel):
    """A bearer token: the subject it authenticates and that subject's namespaces."""

    subject: str
    namespaces: list[str] = Field(default_factory=lambda: list(ALL_NAMESPACES))


class TwinServiceSettings(BaseSettings):
    """`CENTINELA_TWIN_*` settings; `users`, `tokens` and `pre_authenticated` take JSON objects.

    Example: `CENTINELA_TWIN_USERS='{"ops": {"password": "s3cret", "namespaces": ["org.acme*"]}}'`,
    `CENTINELA_TWIN_TOKENS='{"tok-123": {"subject": "engine", "namespaces": ["org.acme"]}}'`.
    Namespace patterns may end in `*`; `["*"]` (the default) is every namespace.
    """

    model_config = SettingsConfigDict(env_prefix="CENTINELA_TWIN_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    db: str | None = None
    users: dict[str, UserConfig] = Field(default_factory=dict)
    tokens: dict[str, TokenConfig] = Field(default_factory=dict)
    pre_authenticated: dict[str, list[str]] = Field(default_factory=dict)
    """Subjects accepted in `x-ditto-pre-authenticated` (e.g. `nginx:ops`) and their namespaces."""
    max_body_bytes: int = Field(default=1_048_576, gt=0)
    search_max_size: int = Field(default=200, gt=0)
    ws_queue_size: int = Field(default=1000, gt=0)

    @property
    def uses_default_user(self) -> bool:
        """True when no user, token or pre-authenticated subject is configured."""
        return not (self.users or self.tokens or self.pre_authenticated)

    def check(self) -> None:
        """Refuse settings that would expose the default user beyond loopback."""
        if self.uses_default_user and not is_loopback(self.host):
            msg = (
                f"The twin service would accept the default user '{DEFAULT_USER}' while bound to "
                f"'{self.host}', which is not a loopback address; configure CENTINELA_TWIN_USERS or "
                "CENTINELA_TWIN_TOKENS, or bind to 127.0.0.1."
            )
            raise ConfigError(msg)


def is_loopback(host: str) -> bool:
    """True for `localhost` and loopback IP addresses (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
