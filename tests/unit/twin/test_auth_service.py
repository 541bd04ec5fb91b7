"""Authentication and namespace scope of the twin service, and its settings."""

from __future__ import annotations

import base64

import pytest

from centinela.errors import ConfigError, TwinError
from centinela.twin.http.auth import Authenticator, Principal
from centinela.twin.http.config import TwinServiceSettings, is_loopback


def _basic(user: str, password: str) -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_default_user_only_without_configured_users() -> None:
    default = Authenticator(TwinServiceSettings())
    assert default.authenticate(_basic("ditto", "ditto")) == Principal("nginx:ditto", ("*",))
    configured = Authenticator(TwinServiceSettings.model_validate({"users": {"ops": {"password": "pw"}}}))
    with pytest.raises(TwinError) as refused:
        configured.authenticate(_basic("ditto", "ditto"))
    assert refused.value.status == 401
    assert configured.authenticate(_basic("ops", "pw")).subject == "nginx:ops"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"authorization": "Basic !!!not-base64"},
        {"authorization": "Basic " + base64.b64encode(b"no-colon").decode()},
        {"authorization": "Digest abc"},
        {"authorization": "Bearer unknown"},
        {"x-ditto-pre-authenticated": "nginx:someone"},
    ],
)
def test_bad_credentials_are_401(headers: dict[str, str]) -> None:
    with pytest.raises(TwinError) as failed:
        Authenticator(TwinServiceSettings()).authenticate(headers)
    assert (failed.value.status, failed.value.error) == (401, "gateway:authentication.failed")


def test_tokens_and_pre_authenticated_subjects() -> None:
    settings = TwinServiceSettings.model_validate(
        {
            "tokens": {"t-1": {"subject": "engine", "namespaces": ["org.acme"]}},
            "pre_authenticated": {"nginx:proxy-user": ["org.acme.*"]},
        }
    )
    auth = Authenticator(settings)
    assert auth.authenticate({"authorization": "Bearer t-1"}) == Principal("bearer:engine", ("org.acme",))
    proxied = auth.authenticate({"x-ditto-pre-authenticated": "nginx:proxy-user"})
    assert proxied.allows("org.acme.north") and not proxied.allows("org.acme")


def test_principal_scope() -> None:
    exact = Principal("nginx:a", ("org.a", "org.b"))
    assert exact.scope(None) == ("org.a", "org.b")
    assert exact.scope(["org.b", "org.c"]) == ("org.b",)
    assert exact.allows_thing("org.a:x") and not exact.allows_thing("org.c:x")
    wildcard = Principal("nginx:w", ("org.*",))
    assert wildcard.scope(None) is None
    assert wildcard.allows("org.x") and not wildcard.allows("com.x")


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CENTINELA_TWIN_PORT", "9090")
    monkeypatch.setenv("CENTINELA_TWIN_USERS", '{"ops": {"password": "pw", "namespaces": ["org.acme"]}}')
    settings = TwinServiceSettings()
    assert settings.port == 9090
    assert settings.users["ops"].namespaces == ["org.acme"]
    assert "pw" not in repr(settings)
    assert not settings.uses_default_user


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("10.1.2.3", False),
        ("example.org", False),
    ],
)
def test_default_user_refused_beyond_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
    settings = TwinServiceSettings(host=host)
    if loopback:
        settings.check()
    else:
        with pytest.raises(ConfigError, match="loopback"):
            settings.check()
    TwinServiceSettings.model_validate({"host": host, "tokens": {"t": {"subject": "s"}}}).check()
