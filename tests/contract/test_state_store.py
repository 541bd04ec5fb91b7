"""Contract of the `StateStore` port, run over every implementation."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from centinela.infra.memory_state import MemoryStateStore
from centinela.infra.sqlite_state import SqliteStateStore
from centinela.ports import StateStore

Factory = Callable[[], Awaitable[StateStore]]


async def _memory() -> StateStore:
    return MemoryStateStore()


async def _sqlite() -> StateStore:
    return SqliteStateStore("sqlite:///:memory:")


FACTORIES: dict[str, Factory] = {"memory": _memory, "sqlite": _sqlite}


@pytest.fixture(params=sorted(FACTORIES))
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
