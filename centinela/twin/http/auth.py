"""Authentication of every request (basic, bearer, pre-authenticated) and namespace scoping."""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase

from centinela.errors import TwinError
from centinela.twin.http.config import DEFAULT_PASSWORD, DEFAULT_USER, TwinServiceSettings

__all__ = ["PRE_AUTHENTICATED_HEADER", "Authenticator", "Principal", "authentication_failed", "namespace_of"]

PRE_AUTHENTICATED_HEADER = "x-ditto-pre-authenticated"


def namespace_of(thing_id: str) -> str:
    """The namespace part of `namespace:name` (empty when there is no colon)."""
    namespace, sep, _ = thing_id.partition(":")
    return namespace if sep else ""


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated subject (`nginx:ditto`, `bearer:engine`) and its namespace patterns."""

    subject: str
    namespaces: tuple[str, ...]

    @property
    def unrestricted(self) -> bool:
        return "*" in self.namespaces

    def allows(self, namespace: str) -> bool:
        """True when `namespace` matches one of the principal's patterns (`org.acme*`, `*`)."""
        return any(fnmatchcase(namespace, pattern) for pattern in self.namespaces)

    def allows_thing(self, thing_id: str) -> bool:
        return self.allows(namespace_of(thing_id))

    def scope(self, requested: Iterable[str] | None) -> tuple[str, ...] | None:
        """Namespaces to search: the requested ones the principal may see, or its own exact ones.

        `None` means "every namespace" and is returned only when nothing narrower applies; the
        caller must still filter results with `allows_thing` when patterns contain wildcards.
        """
        if requested is not None:
            return tuple(ns for ns in requested if self.allows(ns))
        if any("*" in pattern or "?" in pattern or "[" in pattern for pattern in self.namespaces):
            return None
        return self.namespaces


def authentication_failed(reason: str) -> TwinError:
    """Ditto's 401 answer for a request without valid credentials."""
    return TwinError(
        401,
        "gateway:authentication.failed",
        f"The request could not be authenticated: {reason}",
        "Send HTTP basic credentials or a bearer token configured for the twin service.",
    )


class Authenticator:
    """Checks the credentials of a request's headers against the service settings."""

    def __init__(self, settings: TwinServiceSettings) -> None:
        self._users: dict[str, tuple[bytes, tuple[str, ...]]] = {
            name: (user.password.get_secret_value().encode(), tuple(user.namespaces))
            for name, user in settings.users.items()
        }
        if settings.uses_default_user:
            self._users[DEFAULT_USER] = (DEFAULT_PASSWORD.encode(), ("*",))
        self._tokens = {
            token.encode(): Principal(f"bearer:{cfg.subject}", tuple(cfg.namespaces))
            for token, cfg in settings.tokens.items()
        }
        self._pre = {subject: tuple(ns) for subject, ns in settings.pre_authenticated.items()}

    def authenticate(self, headers: Mapping[str, str]) -> Principal:
        """The principal of a request, or `TwinError` 401 naming what was wrong."""
        pre = headers.get(PRE_AUTHENTICATED_HEADER)
        if pre is not None:
            if pre in self._pre:
                return Principal(pre, self._pre[pre])
            msg = f"the pre-authenticated subject '{pre}' is not accepted."
            raise authentication_failed(msg)
        value = headers.get("authorization")
        if not value:
            msg = "no Authorization header was sent."
            raise authentication_failed(msg)
        scheme, _, credentials = value.strip().partition(" ")
        scheme = scheme.lower()
        if scheme == "basic":
            return self._basic(credentials.strip())
        if scheme == "bearer":
            return self._bearer(credentials.strip())
        msg = f"the authorization scheme '{scheme}' is not supported."
        raise authentication_failed(msg)

    def _basic(self, credentials: str) -> Principal:
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            msg = "the basic credentials are not valid base64."
            raise authentication_failed(msg) from None
        user, sep, password = decoded.partition(":")
        known = self._users.get(user)
        # Compare against a dummy when the user is unknown, so timing does not reveal users.
        expected = known[0] if known else b"\x00" * 16
        if not sep or not hmac.compare_digest(password.encode(), expected) or known is None:
            msg = f"wrong user name or password for user '{user}'."
            raise authentication_failed(msg)
        return Principal(f"nginx:{user}", known[1])

    def _bearer(self, token: str) -> Principal:
        given = token.encode()
        for known, principal in self._tokens.items():
            if hmac.compare_digest(given, known):
                return principal
        msg = "the bearer token is not known."
        raise authentication_failed(msg)
