"""PostgresStateStore against a real PostgreSQL: saves are atomic, prefixes are exact, reconnects."""

from __future__ import annotations

import pytest
from service_urls import postgres_schema_url

from centinela.errors import StateError
from centinela.infra.postgres_state import PostgresStateStore

pytestmark = pytest.mark.integration


async def test_save_load_prefix_delete_and_reconnect(postgres_url: str) -> None:
    url = postgres_schema_url()
    store = await PostgresStateStore.open(url)
    try:
        await store.save({"engine/g/t/0/offset": b"12", "engine/g/t/0/thing/a": b"[1]",
                          "engine/g/t/1/thing/b": b"[2]", "engine/g/t/10/thing/c": b"[3]"})
        assert await store.load("engine/g/t/0/offset") == b"12"
        assert await store.load("missing") is None
        assert await store.load_prefix("engine/g/t/1/") == {"engine/g/t/1/thing/b": b"[2]"}
        await store.save({"engine/g/t/0/thing/a": None, "engine/g/t/0/offset": b"13"})
        assert await store.load_prefix("engine/g/t/0/") == {"engine/g/t/0/offset": b"13"}
        # A connection lost between calls is replaced.
        assert store._conn is not None  # noqa: SLF001
        await store._conn.close()  # noqa: SLF001
        assert await store.load("engine/g/t/10/thing/c") == b"[3]"
    finally:
        await store.aclose()
    # The data is in the table, not in the object: a new store sees it.
    again = await PostgresStateStore.open(url)
    try:
        assert await again.load("engine/g/t/0/offset") == b"13"
    finally:
        await again.aclose()


async def test_unreachable_server_is_a_state_error() -> None:
    with pytest.raises(StateError, match="cannot be reached"):
        await PostgresStateStore.open("postgresql://nobody@127.0.0.1:1/none")
