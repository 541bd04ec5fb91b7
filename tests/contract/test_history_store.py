"""Contract of the `HistoryStore` port, run over every implementation."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from service_urls import postgres_schema_url

from centinela.infra.postgres_history import PostgresHistoryStore
from centinela.infra.sqlite_history import SqliteHistoryStore
from centinela.ports import AlarmRecord, HistoryStore, Sample

Factory = Callable[[Path], Awaitable[HistoryStore]]


async def _sqlite(tmp: Path) -> HistoryStore:
    return SqliteHistoryStore(f"sqlite:///{tmp / 'history.db'}", batch_rows=3)


async def _postgres(tmp: Path) -> HistoryStore:
    return await PostgresHistoryStore.open(postgres_schema_url(), batch_rows=3)


FACTORIES: dict[str, Factory] = {"sqlite": _sqlite, "postgres": _postgres}
INTEGRATION = {"postgres"}


@pytest.fixture(
    params=[pytest.param(n, marks=[pytest.mark.integration] if n in INTEGRATION else []) for n in FACTORIES]
)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[HistoryStore]:
    instance = await FACTORIES[request.param](tmp_path)
    yield instance
    await instance.aclose()


def _sample(t: float, value: float | None, path: str = "/features/p/properties/v") -> Sample:
    return Sample(t, "ns:a", path, value)


async def test_samples_round_trip_and_upsert_on_thing_path_time(store: HistoryStore) -> None:
    await store.write_samples([_sample(1.0, 10.0), _sample(2.0, 20.0), _sample(1.0, 11.0)])
    await store.write_samples([_sample(3.0, None)])
    await store.flush()
    rows = await store.query("ns:a", "/features/p/properties/v", 0.0, 10.0)
    assert rows == [(1.0, 11.0), (2.0, 20.0), (3.0, None)]


async def test_bucketed_query_averages(store: HistoryStore) -> None:
    await store.write_samples([_sample(float(t), float(t)) for t in range(10)])
    await store.flush()
    assert await store.query("ns:a", "/features/p/properties/v", 0.0, 10.0, bucket=5.0) == [
        (0.0, 2.0),
        (5.0, 7.0),
    ]


async def test_replay_is_in_time_order_and_filters_things(store: HistoryStore) -> None:
    await store.write_samples(
        [
            Sample(2.0, "ns:b", "/x", 1.0),
            Sample(1.0, "ns:a", "/x", 2.0),
            Sample(3.0, "ns:a", "/x", 3.0),
            Sample(0.5, "ns:a", "/y", None, {"s": "text"}),
        ]
    )
    await store.flush()
    got = [(s.time, s.thing_id, s.value, s.value_json) async for s in store.replay(0.0, 3.0)]
    assert got == [(0.5, "ns:a", None, {"s": "text"}), (1.0, "ns:a", 2.0, None), (2.0, "ns:b", 1.0, None)]
    only_b = [s.thing_id async for s in store.replay(0.0, 10.0, thing_ids=["ns:b"])]
    assert only_b == ["ns:b"]


async def test_alarm_written_twice_keeps_one_row(store: HistoryStore) -> None:
    record = AlarmRecord(
        5.0, "id-1", "ns:a", "High", "active-unacknowledged", "critical", 3100.0, "m", {"cause": "raised"}
    )
    await store.write_alarms([record])
    await store.write_alarms([record])
    await store.flush()
    assert isinstance(store, SqliteHistoryStore | PostgresHistoryStore)
    assert await store.alarms(0.0, 10.0) == [record]
