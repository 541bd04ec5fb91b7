"""RedisLive against a real Redis: current values, active alarms by severity, alarm state, locks."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from centinela.infra.redis_live import AlarmState, CurrentValue, RedisLive

pytestmark = pytest.mark.integration


@pytest.fixture
async def live(redis_url: str) -> AsyncIterator[RedisLive]:
    instance = await RedisLive.from_url(redis_url)
    yield instance
    await instance.aclose()


@pytest.fixture
def thing() -> str:
    return f"test.live:{uuid.uuid4().hex[:8]}"


async def test_current_values_keep_the_newest(live: RedisLive, thing: str) -> None:
    stored = await live.write_current(
        [
            CurrentValue(thing, "/features/p/properties/tubing", 2950.5, 10.0),
            CurrentValue(thing, "/features/p/properties/casing", {"v": 1, "unit": "psi"}, 10.0),
        ]
    )
    assert stored == 2
    # A late, older reading is ignored; a newer one replaces.
    stored = await live.write_current(
        [
            CurrentValue(thing, "/features/p/properties/tubing", 1.0, 9.0),
            CurrentValue(thing, "/features/p/properties/casing", {"v": 2, "unit": "psi"}, 11.0),
        ]
    )
    assert stored == 1
    current = await live.current(thing)
    assert current["/features/p/properties/tubing"] == CurrentValue(
        thing, "/features/p/properties/tubing", 2950.5, 10.0
    )
    assert current["/features/p/properties/casing"].value == {"v": 2, "unit": "psi"}
    assert set(current) == {"/features/p/properties/tubing", "/features/p/properties/casing"}
    await live.redis.delete(f"telemetry:{thing}:current")


async def test_active_alarms_sorted_by_severity_and_cleared(live: RedisLive, thing: str) -> None:
    tenant = f"t{uuid.uuid4().hex[:8]}"

    def alarm(i: str, severity: str, active: bool = True) -> AlarmState:
        return AlarmState(f"{tenant}-{i}", tenant, thing, f"R{i}", "active", severity, 5.0, active, "m")

    await live.write_alarms([alarm("a", "low"), alarm("b", "critical"), alarm("c", "medium")])
    assert await live.active_alarms(tenant) == [
        (f"{tenant}-b", "critical"),
        (f"{tenant}-c", "medium"),
        (f"{tenant}-a", "low"),
    ]
    assert [a for a, _ in await live.active_alarms(tenant, min_severity="medium")] == [
        f"{tenant}-b",
        f"{tenant}-c",
    ]
    await live.write_alarms([alarm("b", "critical", active=False)])
    assert [a for a, _ in await live.active_alarms(tenant)] == [f"{tenant}-c", f"{tenant}-a"]
    assert await live.alarm_state(f"{tenant}-b") == alarm("b", "critical", active=False)
    assert await live.alarm_state("missing") is None
    await live.redis.delete(f"alarms:active:{tenant}", *(f"alarm:{tenant}-{i}:state" for i in "abc"))


async def test_lock_has_one_owner_and_expires(live: RedisLive) -> None:
    resource = f"test-{uuid.uuid4().hex[:8]}"
    first = live.lock(resource, ttl=0.3)
    second = live.lock(resource, ttl=0.3)
    assert await first.acquire()
    assert not await second.acquire()
    assert not await second.release()  # not the owner: the lock stays
    assert await first.extend()
    # Expiry: poll (bounded) until the TTL passes instead of sleeping a fixed time.
    for _ in range(50):
        if await second.acquire():
            break
        await asyncio.sleep(0.05)
    else:
        pytest.fail("the lock did not expire after its TTL")
    assert not await first.extend()
    assert await second.release()
