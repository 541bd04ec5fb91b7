"""Infrastructure settings: environment variables, URL parsing, and URLs selecting implementations."""

from __future__ import annotations

import pytest

from centinela.config import InfraSettings, open_bus, open_history_store, open_state_store, parse_kafka_url
from centinela.errors import ConfigError
from centinela.infra.memory_bus import MemoryBus
from centinela.infra.memory_state import MemoryStateStore


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CENTINELA_KAFKA", "CENTINELA_POSTGRES", "CENTINELA_REDIS"):
        monkeypatch.delenv(name, raising=False)
    assert (InfraSettings().kafka, InfraSettings().postgres) == ("memory://", None)
    monkeypatch.setenv("CENTINELA_KAFKA", "kafka://h1:9092,h2:9092?partitions=12")
    monkeypatch.setenv("CENTINELA_POSTGRES", "postgresql://u@db:5432/c")
    settings = InfraSettings()
    assert (settings.kafka, settings.postgres, settings.redis) == (
        "kafka://h1:9092,h2:9092?partitions=12",
        "postgresql://u@db:5432/c",
        "memory://",
    )


def test_kafka_url_parses_servers_and_partitions() -> None:
    parsed = parse_kafka_url("kafka://h1:9092,h2:9092?partitions=12&client_id=worker-3")
    assert (parsed.bootstrap, parsed.partitions, parsed.client_id) == ("h1:9092,h2:9092", 12, "worker-3")
    assert parse_kafka_url("kafka://127.0.0.1:59092").partitions == 1
    with pytest.raises(ConfigError, match="CENTINELA_KAFKA.*partitions='0'"):
        parse_kafka_url("kafka://h:1?partitions=0")
    with pytest.raises(ConfigError, match="expected kafka://host:port"):
        parse_kafka_url("http://h:1")


async def test_memory_urls_select_in_process_implementations() -> None:
    assert isinstance(await open_bus("memory://"), MemoryBus)
    assert isinstance(await open_state_store("memory://"), MemoryStateStore)


async def test_unknown_schemes_and_bad_options_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="CENTINELA_KAFKA is 'amqp://x'"):
        await open_bus("amqp://x")
    with pytest.raises(ConfigError, match="CENTINELA_REDIS is 'mongodb://x'"):
        await open_state_store("mongodb://x")
    with pytest.raises(ConfigError, match="CENTINELA_POSTGRES is 'mysql://x'"):
        await open_history_store("mysql://x")
    with pytest.raises(ConfigError, match="flush_interval='-1'"):
        await open_history_store("postgresql://u@h/db?flush_interval=-1")
