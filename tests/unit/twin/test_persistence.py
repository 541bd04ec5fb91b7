"""SQLite persistence: group commit off the event loop, restart, failures that change nothing."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from centinela.errors import ConfigError, TwinError
from centinela.twin.commands import ThingRecord
from centinela.twin.persistence import MemoryPersistence, SqlitePersistence, open_persistence
from centinela.twin.policies import PolicyRecord
from centinela.twin.store import EmbeddedTwinStore


async def test_concurrent_saves_are_group_committed(tmp_path: Path) -> None:
    db = SqlitePersistence(tmp_path / "g.db")
    records = [ThingRecord(f"acme:t{i}", 1, {"thingId": f"acme:t{i}"}, 1.0, 1.0) for i in range(200)]
    await asyncio.gather(*(db.save([r], []) for r in records))
    assert 1 <= db.transactions < 200
    things, policies = await db.load()
    assert sorted(t.thing_id for t in things) == sorted(r.thing_id for r in records)
    assert policies == []
    await db.aclose()


async def test_round_trip_of_records_and_tombstones(tmp_path: Path) -> None:
    db = SqlitePersistence(tmp_path / "r.db")
    live = ThingRecord(
        "acme:a", 4, {"thingId": "acme:a", "attributes": {"x": [1, None]}}, 10.0, 12.5, {"m": 1}
    )
    gone = ThingRecord("acme:b", 7, None, 1.0, 2.0)
    await db.save(
        [live, gone], [PolicyRecord("acme:p", {"policyId": "acme:p"}), PolicyRecord("acme:q", None)]
    )
    await db.aclose()
    again = SqlitePersistence(tmp_path / "r.db")
    things, policies = await again.load()
    assert sorted(things, key=lambda r: r.thing_id) == [live, gone]
    assert sorted(policies, key=lambda p: p.policy_id) == [
        PolicyRecord("acme:p", {"policyId": "acme:p"}),
        PolicyRecord("acme:q", None),
    ]
    await again.aclose()


async def test_a_failed_write_is_503_and_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "f.db"
    async with EmbeddedTwinStore(SqlitePersistence(path)) as store:
        await store.put("acme:a", "/", {"attributes": {"x": 1}})
        # Make the table refuse writes from another connection.
        other = sqlite3.connect(path)
        other.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON things BEGIN SELECT RAISE(ABORT, 'read only'); END"
        )
        other.commit()
        other.close()
        with pytest.raises(TwinError) as info:
            await store.put("acme:a", "/attributes/x", 2)
        assert info.value.status == 503
        assert "read only" in info.value.message
        assert await store.retrieve("acme:a", "/attributes/x") == 1
        assert store.revision("acme:a") == 1


def test_open_persistence_urls(tmp_path: Path) -> None:
    assert isinstance(open_persistence(None), MemoryPersistence)
    assert isinstance(open_persistence("memory://"), MemoryPersistence)
    relative = open_persistence("sqlite:///twins.db")
    assert isinstance(relative, SqlitePersistence) and relative.path == "twins.db"
    absolute = open_persistence(f"sqlite:///{tmp_path}/t.db")
    assert isinstance(absolute, SqlitePersistence) and absolute.path == f"{tmp_path}/t.db"
    plain = open_persistence(str(tmp_path / "p.db"))
    assert isinstance(plain, SqlitePersistence)
    with pytest.raises(ConfigError, match="postgresql://x"):
        open_persistence("postgresql://x")
    for db in (relative, absolute, plain):
        db._executor.shutdown()


async def test_memory_persistence_survives_a_reopen() -> None:
    persistence = MemoryPersistence()
    async with EmbeddedTwinStore(persistence) as first:
        await first.put("acme:a", "/", {})
        await first.merge("acme:a", "/attributes", {"k": 1})
    async with EmbeddedTwinStore(persistence) as second:
        assert second.revision("acme:a") == 2
        assert second.get_policy("acme:a")["policyId"] == "acme:a"


async def test_a_cancelled_writer_leaves_memory_and_database_in_step(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    async with EmbeddedTwinStore(SqlitePersistence(path)) as store:
        await store.put("acme:a", "/", {})
        sub = store.subscribe()
        writer = asyncio.create_task(store.put("acme:a", "/attributes/x", 1))
        while not store.persistence._pending and not writer.done():  # type: ignore[attr-defined]
            await asyncio.sleep(0)
        writer.cancel()
        with pytest.raises(asyncio.CancelledError):
            await writer
        assert store.revision("acme:a") == 2
        event = sub.get_nowait()
        assert event is not None and event.revision == 2
    async with EmbeddedTwinStore(SqlitePersistence(path)) as reopened:
        assert reopened.revision("acme:a") == 2
        assert await reopened.retrieve("acme:a", "/attributes/x") == 1


async def test_a_store_used_without_open_reads_what_was_persisted_first(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    async with EmbeddedTwinStore(SqlitePersistence(path)) as first:
        await first.put("acme:a", "/", {})
    second = EmbeddedTwinStore(SqlitePersistence(path))
    assert (await second.put("acme:a", "/attributes/x", 1)).revision == 2
    await second.aclose()


async def test_write_behind_makes_changes_visible_at_once_and_durable_at_flush(tmp_path: Path) -> None:
    path = tmp_path / "wb.db"
    async with EmbeddedTwinStore(SqlitePersistence(path, write_behind=True)) as store:
        persistence = store.persistence
        assert isinstance(persistence, SqlitePersistence)
        for i in range(50):
            await store.put(f"acme:t{i}", "/", {"attributes": {"i": i}})
        await store.merge("acme:t0", "/attributes", {"i": 100})
        # Every write returned without waiting for a transaction: none has run yet.
        assert persistence.transactions == 0
        assert await store.retrieve("acme:t0", "/attributes/i") == 100
        await store.flush()
        assert 1 <= persistence.transactions < 51
        await store.put("acme:t1", "/attributes/i", -1)  # committed by aclose
    async with EmbeddedTwinStore(SqlitePersistence(path)) as again:
        assert len(again) == 50
        assert await again.retrieve("acme:t0", "/attributes/i") == 100
        assert await again.retrieve("acme:t1", "/attributes/i") == -1
        assert again.revision("acme:t0") == 2


async def test_write_behind_keeps_what_a_failed_transaction_held_until_one_succeeds(tmp_path: Path) -> None:
    path = tmp_path / "wbf.db"
    async with EmbeddedTwinStore(SqlitePersistence(path, write_behind=True)) as store:
        await store.put("acme:a", "/", {"attributes": {"x": 1}})
        await store.flush()
        other = sqlite3.connect(path)
        other.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON things BEGIN SELECT RAISE(ABORT, 'read only'); END"
        )
        other.commit()
        await store.put("acme:a", "/attributes/x", 2)
        await store.put("acme:b", "/", {"attributes": {"y": 1}})
        with pytest.raises(TwinError) as info:
            await store.flush()
        assert info.value.status == 503 and "read only" in info.value.message
        assert await store.retrieve("acme:a", "/attributes/x") == 2  # visible all along
        other.execute("DROP TRIGGER refuse")
        other.commit()
        other.close()
        await store.flush()  # the kept writes go now, in order
    async with EmbeddedTwinStore(SqlitePersistence(path)) as again:
        assert await again.retrieve("acme:a", "/attributes/x") == 2
        assert await again.retrieve("acme:b", "/attributes/y") == 1


def test_write_behind_is_chosen_by_the_url(tmp_path: Path) -> None:
    behind = open_persistence(f"sqlite:///{tmp_path}/w.db?write-behind=true")
    assert isinstance(behind, SqlitePersistence) and behind.write_behind and behind.path == f"{tmp_path}/w.db"
    waiting = open_persistence(f"sqlite:///{tmp_path}/w.db")
    assert isinstance(waiting, SqlitePersistence) and not waiting.write_behind
    with pytest.raises(ConfigError, match="unknown options"):
        open_persistence(f"sqlite:///{tmp_path}/w.db?sync=off")
    for db in (behind, waiting):
        db._executor.shutdown()
