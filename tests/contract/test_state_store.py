"""Contract of the `StateStore` port, run over every implementation."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from service_urls import require

from centinela.infra.memory_state import MemoryStateStore
from centinela.infra.sqlite_state import SqliteStateStore
from centinela.ports import StateStore

Factory = Callable[[], Awaitable[StateStore]]


async def _memory() -> StateStore:
    return MemoryStateStore()


async def _sqlite() -> StateStore:
    return SqliteStateStore("sqlite:///:memory:")


async def _redis() -> StateStore:
    from centinela.infra.redis_state import RedisStateStore

    # A namespace of its own per test: runs never see each other's checkpoints.
    return await RedisStateStore.from_url(require("redis"), namespace=f"test:{uuid.uuid4().hex}")


FACTORIES: dict[str, Factory] = {"memory": _memory, "sqlite": _sqlite, "redis": _redis}
INTEGRATION = {"redis"}


@pytest.fixture(
    params=[pytest.param(n, marks=[pytest.mark.integration] if n in INTEGRATION else []) for n in FACTORIES]
)
async def store(request: pytest.FixtureRequest) -> AsyncIterator[StateStore]:
    instance = await FACTORIES[request.param]()
    yield instance
    await instance.aclose()


async def test_save_then_load(store: StateStore) -> None:
    await store.save({"engine/p0": b"\x00state", "engine/p1": b"other"})
    assert await store.load("engine/p0") == b"\x00state"
    assert await store.load("missing") is None


async def test_none_deletes_and_prefix_lists(store: StateStore) -> None:
    await store.save({"a/1": b"x", "a/2": b"y", "b/1": b"z"})
    await store.save({"a/1": None, "a/2": b"y2"})
    assert await store.load_prefix("a/") == {"a/2": b"y2"}


async def test_prefix_is_literal_and_bytes_are_kept(store: StateStore) -> None:
    raw = bytes(range(256))
    await store.save({"p[1]*/a": raw, "p[1]*/b": b"", "p[1]x/c": b"no", "p[2]/d": b"no"})
    assert await store.load_prefix("p[1]*/") == {"p[1]*/a": raw, "p[1]*/b": b""}
    assert await store.load_prefix("zzz") == {}
