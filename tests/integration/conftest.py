"""Service URL fixtures for integration tests: a server that cannot be reached skips (fails under CI)."""

from __future__ import annotations

import pytest
from service_urls import require


@pytest.fixture(scope="session")
def kafka_url() -> str:
    return require("kafka")


@pytest.fixture(scope="session")
def postgres_url() -> str:
    return require("postgres")


@pytest.fixture(scope="session")
def redis_url() -> str:
    return require("redis")
