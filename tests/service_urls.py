"""Where the test servers are: `CENTINELA_*` variables, else `.services/env` written by `make services`."""

from __future__ import annotations

import importlib.util
import os
import socket
import sys
from pathlib import Path
from types import ModuleType
from urllib.parse import urlsplit

__all__ = ["DEFAULTS", "require", "service_url"]

DEFAULTS = {
    "kafka": "kafka://127.0.0.1:59092",
    "postgres": "postgresql://centinela@127.0.0.1:55432/centinela",
    "redis": "redis://127.0.0.1:56379/0",
}
ROOT = Path(__file__).resolve().parent.parent


def _root_conftest() -> ModuleType:
    """tests/conftest.py, loaded by path: `import conftest` may find a nested conftest first."""
    name = "_centinela_root_conftest"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "tests" / "conftest.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[name] = module
    return sys.modules[name]


def service_unavailable(name: str, reason: str) -> None:
    """tests/conftest.py's `service_unavailable`: fails under CI=true, skips elsewhere."""
    _root_conftest().service_unavailable(name, reason)


_SCHEMES = {"kafka": ("kafka",), "postgres": ("postgresql", "postgres"), "redis": ("redis",)}


def _env_file() -> dict[str, str]:
    path = ROOT / ".services" / "env"
    if not path.is_file():
        return {}
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {k.strip(): v.strip() for k, v in pairs}


def service_url(name: str) -> str:
    """The URL of service `name` (kafka, postgres, redis) for tests; `memory://` values are ignored."""
    var = f"CENTINELA_{name.upper()}"
    for candidate in (os.environ.get(var), _env_file().get(var)):
        if candidate and urlsplit(candidate).scheme in _SCHEMES[name]:
            return candidate
    return DEFAULTS[name]


def _reachable(url: str) -> str | None:
    parts = urlsplit(url)
    for hostport in parts.netloc.rsplit("@", 1)[-1].split(","):
        host, _, port = hostport.rpartition(":")
        try:
            with socket.create_connection((host or "127.0.0.1", int(port)), timeout=1.0):
                return None
        except OSError as exc:
            return f"{hostport} refused a connection ({exc})"
    return None


def require(name: str) -> str:
    """The URL of a reachable service `name`, or skip (fail under CI) naming why."""
    url = service_url(name)
    problem = _reachable(url)
    if problem is not None:
        service_unavailable(name, f"{url}: {problem}")
    return url


_SCHEMAS: list[str] = []


def _drop_schemas() -> None:
    import psycopg

    if not _SCHEMAS:
        return
    try:
        with psycopg.connect(service_url("postgres"), autocommit=True, connect_timeout=3) as conn:
            for schema in _SCHEMAS:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'.encode())
    except psycopg.Error:
        pass


def postgres_schema_url() -> str:
    """A reachable PostgreSQL URL whose `search_path` is a fresh schema (dropped when the run ends)."""
    import atexit
    import uuid

    import psycopg

    url = require("postgres")
    schema = f"ctest_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True, connect_timeout=3) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"'.encode())
    if not _SCHEMAS:
        atexit.register(_drop_schemas)
    _SCHEMAS.append(schema)
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{schema}"
