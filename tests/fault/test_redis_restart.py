"""Redis stopped and restarted: checkpoints saved before survive (append-only file), a save during the
outage fails loudly and is retried after it, current values resume — nothing lost, nothing duplicated."""

from __future__ import annotations

import asyncio

import pytest
from fault_servers import PrivateServices

from centinela.errors import StateError
from centinela.infra.redis_live import CurrentValue, RedisLive
from centinela.infra.redis_state import RedisStateStore

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def _save_with_retry(store: RedisStateStore, items: dict[str, bytes | None]) -> None:
    """Save, retrying while Redis is away (bounded)."""
    for _ in range(200):
        try:
            await store.save(items)
            return
        except StateError:
            await asyncio.sleep(0.05)
    pytest.fail("Redis did not come back within 10 s")


async def test_redis_restart_keeps_checkpoints(private: PrivateServices) -> None:
    url = await private.start("redis")
    store = await RedisStateStore.from_url(url)
    live = await RedisLive.from_url(url)
    try:
        for i in range(50):
            await store.save({f"engine/p{i % 4}/thing-{i}": f"state-{i}".encode()})
        await live.write_current([CurrentValue("ns:w", "/features/f/properties/v", 1.5, 10.0)])

        await private.stop("redis")
        with pytest.raises(StateError, match="Redis"):
            await store.save({"engine/p0/thing-50": b"state-50"})

        restart = asyncio.create_task(private.start("redis"))
        await _save_with_retry(store, {"engine/p0/thing-50": b"state-50", "engine/p1/thing-1": None})
        await restart

        everything = await store.load_prefix("engine/")
        expected = {f"engine/p{i % 4}/thing-{i}": f"state-{i}".encode() for i in range(50) if i != 1}
        expected["engine/p0/thing-50"] = b"state-50"
        assert everything == expected
        assert await store.load_prefix("engine/p0/") == {k: v for k, v in expected.items() if "/p0/" in k}

        # Current values written before the outage are there; newer ones apply, older ones do not.
        assert await live.write_current(
            [
                CurrentValue("ns:w", "/features/f/properties/v", 2.5, 11.0),
                CurrentValue("ns:w", "/features/f/properties/v", 0.5, 9.0),
            ]
        ) == 1
        assert (await live.current("ns:w"))["/features/f/properties/v"].value == 2.5
    finally:
        await store.aclose()
        await live.aclose()
