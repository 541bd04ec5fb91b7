"""Credentials for a Ditto endpoint (basic, bearer, pre-authenticated) and `ditto+http://` URLs."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from enum import Enum
from urllib.parse import parse_qs, unquote, urlsplit

from centinela.errors import ConfigError

__all__ = ["AuthKind", "DittoAuth", "DittoEndpoint", "parse_ditto_url"]


class AuthKind(Enum):
    """How requests to Ditto are authenticated."""

    NONE = "none"
    BASIC = "basic"
    BEARER = "bearer"
    PRE_AUTHENTICATED = "pre-authenticated"


@dataclass(frozen=True, slots=True)
class DittoAuth:
    """One way of authenticating: use `basic()`, `bearer()` or `pre_authenticated()` to build it."""

    kind: AuthKind = AuthKind.NONE
    username: str = ""
    secret: str = ""

    @classmethod
    def basic(cls, username: str, password: str) -> DittoAuth:
        return cls(AuthKind.BASIC, username, password)

    @classmethod
    def bearer(cls, token: str) -> DittoAuth:
        return cls(AuthKind.BEARER, "", token)

    @classmethod
    def pre_authenticated(cls, subject: str) -> DittoAuth:
        """Ditto's `x-ditto-pre-authenticated: <issuer>:<subject>` (behind a trusted proxy only)."""
        return cls(AuthKind.PRE_AUTHENTICATED, subject, "")

    def headers(self) -> dict[str, str]:
        """The HTTP headers carrying these credentials."""
        if self.kind is AuthKind.BASIC:
            token = base64.b64encode(f"{self.username}:{self.secret}".encode()).decode()
            return {"Authorization": f"Basic {token}"}
        if self.kind is AuthKind.BEARER:
            return {"Authorization": f"Bearer {self.secret}"}
        if self.kind is AuthKind.PRE_AUTHENTICATED:
            return {"x-ditto-pre-authenticated": self.username}
        return {}

    def __repr__(self) -> str:
        return f"DittoAuth(kind={self.kind.value}, username={self.username!r})"


@dataclass(frozen=True, slots=True)
class DittoEndpoint:
    """Where Ditto is (`http://host:port`, with any path prefix) and how to authenticate."""

    base_url: str
    auth: DittoAuth

    @property
    def ws_url(self) -> str:
        scheme, rest = self.base_url.split("://", 1)
        return f"{'wss' if scheme == 'https' else 'ws'}://{rest.rstrip('/')}/ws/2"


def parse_ditto_url(url: str) -> DittoEndpoint:
    """Parse `ditto+http://user:pass@host:port[/prefix][?token=T | ?pre-authenticated=S]`.

    `ditto+https://` uses TLS. Without credentials the requests carry none.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("ditto+http", "ditto+https", "http", "https"):
        msg = f"The Ditto URL '{url}' must start with ditto+http:// or ditto+https://."
        raise ConfigError(msg)
    if not parts.hostname:
        msg = f"The Ditto URL '{url}' names no host."
        raise ConfigError(msg)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    port = f":{parts.port}" if parts.port else ""
    base = f"{scheme.removeprefix('ditto+')}://{host}{port}{parts.path.rstrip('/')}"
    if parts.username is not None:
        auth = DittoAuth.basic(unquote(parts.username), unquote(parts.password or ""))
    elif "token" in query:
        auth = DittoAuth.bearer(query["token"])
    elif "pre-authenticated" in query:
        auth = DittoAuth.pre_authenticated(query["pre-authenticated"])
    else:
        auth = DittoAuth()
    return DittoEndpoint(base, auth)
