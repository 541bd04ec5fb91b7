"""Infrastructure settings (`CENTINELA_KAFKA`, `_POSTGRES`, `_REDIS`): URLs select implementations.

| setting | URL | implementation |
|---|---|---|
| `CENTINELA_KAFKA` (bus) | `memory://` (default) | `MemoryBus` |
| | `kafka://host:port[,host:port]?partitions=6&client_id=x` | `KafkaBus` |
| `CENTINELA_POSTGRES` (history) | `sqlite:///path` (default: none) | `SqliteHistoryStore` |
| | `postgresql://user@host:port/db?batch_rows=5000&flush_interval=2` | `PostgresHistoryStore` |
| `CENTINELA_REDIS` (state) | `memory://` (default) | `MemoryStateStore` |
| | `redis://host:port/db` | `RedisStateStore` |

Unknown schemes are a `ConfigError` naming the setting and the value.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit

from pydantic_settings import BaseSettings, SettingsConfigDict

from centinela.errors import ConfigError
from centinela.ports import Bus, HistoryStore, StateStore

__all__ = [
    "InfraSettings",
    "KafkaUrl",
    "open_bus",
    "open_history_store",
    "open_state_store",
    "parse_kafka_url",
]


class InfraSettings(BaseSettings):
    """Where the bus, the history store and the state store live (read from the environment)."""

    model_config = SettingsConfigDict(env_prefix="CENTINELA_", extra="ignore")

    kafka: str = "memory://"
    postgres: str | None = None
    redis: str = "memory://"


@dataclass(frozen=True, slots=True)
class KafkaUrl:
    """A parsed `kafka://` URL."""

    bootstrap: str
    partitions: int = 1
    client_id: str = "centinela"


def _query(url: str, setting: str) -> dict[str, str]:
    try:
        return dict(parse_qsl(urlsplit(url).query, strict_parsing=False))
    except ValueError as exc:
        msg = f"The setting {setting} has an unreadable query string in {url!r}: {exc}."
        raise ConfigError(msg) from exc


def _positive_int(value: str, name: str, setting: str, url: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        msg = f"The setting {setting} has {name}={value!r} in {url!r}; expected a positive integer."
        raise ConfigError(msg)
    return number


def parse_kafka_url(url: str, setting: str = "CENTINELA_KAFKA") -> KafkaUrl:
    """Parse `kafka://host:port[,host:port][?partitions=N&client_id=NAME]`."""
    parts = urlsplit(url)
    if parts.scheme != "kafka" or not parts.netloc:
        msg = f"The setting {setting} is {url!r}; expected kafka://host:port[,host:port]."
        raise ConfigError(msg)
    query = _query(url, setting)
    partitions = _positive_int(query.get("partitions", "1"), "partitions", setting, url)
    return KafkaUrl(parts.netloc, partitions, query.get("client_id", "centinela"))


async def open_bus(url: str) -> Bus:
    """Open the bus a URL names (`memory://` or `kafka://…`)."""
    scheme = urlsplit(url).scheme
    if scheme == "memory":
        from centinela.infra.memory_bus import MemoryBus

        return MemoryBus()
    if scheme == "kafka":
        from centinela.infra.kafka_bus import KafkaBus

        return await KafkaBus.from_url(url)
    msg = f"The setting CENTINELA_KAFKA is {url!r}; expected memory:// or kafka://host:port."
    raise ConfigError(msg)


def _history_options(url: str) -> dict[str, float | int]:
    query = _query(url, "CENTINELA_POSTGRES")
    options: dict[str, float | int] = {}
    if "batch_rows" in query:
        options["batch_rows"] = _positive_int(query["batch_rows"], "batch_rows", "CENTINELA_POSTGRES", url)
    if "flush_interval" in query:
        try:
            options["flush_interval"] = float(query["flush_interval"])
        except ValueError:
            options["flush_interval"] = 0.0
        if not options["flush_interval"] > 0:
            msg = (
                f"The setting CENTINELA_POSTGRES has flush_interval={query['flush_interval']!r} in {url!r}; "
                "expected a positive number of seconds."
            )
            raise ConfigError(msg)
    return options


async def open_history_store(url: str) -> HistoryStore:
    """Open the history store a URL names (`postgresql://…` or `sqlite:///…`).

    `batch_rows` and `flush_interval` may be given in the URL's query; other query parameters are
    passed to PostgreSQL (for example `options=-csearch_path%3Dhistory`).
    """
    scheme = urlsplit(url).scheme
    if scheme in {"postgresql", "postgres"}:
        from centinela.infra.postgres_history import PostgresHistoryStore

        options = _history_options(url)
        parts = urlsplit(url)
        rest = [(k, v) for k, v in parse_qsl(parts.query) if k not in {"batch_rows", "flush_interval"}]
        clean = parts._replace(query=urlencode(rest)).geturl()
        return await PostgresHistoryStore.open(clean, **options)
    if scheme == "sqlite":
        from centinela.infra.sqlite_history import SqliteHistoryStore

        return SqliteHistoryStore(url)
    msg = f"The setting CENTINELA_POSTGRES is {url!r}; expected postgresql://… or sqlite:///path."
    raise ConfigError(msg)


async def open_state_store(url: str) -> StateStore:
    """Open the state store a URL names (`memory://` or `redis://…`)."""
    scheme = urlsplit(url).scheme
    if scheme == "memory":
        from centinela.infra.memory_state import MemoryStateStore

        return MemoryStateStore()
    if scheme in {"redis", "rediss", "unix"}:
        from centinela.infra.redis_state import RedisStateStore

        return await RedisStateStore.from_url(url)
    msg = f"The setting CENTINELA_REDIS is {url!r}; expected memory:// or redis://host:port/db."
    raise ConfigError(msg)
