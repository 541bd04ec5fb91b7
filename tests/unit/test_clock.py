import asyncio

import pytest

from centinela.clock import ManualClock


async def test_manual_clock_wakes_sleepers_in_time_order() -> None:
    clock = ManualClock(start=100.0)
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, when: float) -> None:
        await clock.sleep_until(when)
        woke.append((name, clock.now()))

    tasks = [asyncio.create_task(sleeper("late", 130.0)), asyncio.create_task(sleeper("early", 110.0))]
    await asyncio.sleep(0)
    await clock.advance(15)
    assert woke == [("early", 110.0)]
    assert clock.now() == 115.0
    await clock.set(200.0)
    await asyncio.gather(*tasks)
    assert woke == [("early", 110.0), ("late", 130.0)]


async def test_manual_clock_refuses_to_go_back() -> None:
    clock = ManualClock(start=10.0)
    with pytest.raises(ValueError, match="cannot go back"):
        await clock.set(5.0)


async def test_sleep_until_past_returns_at_once() -> None:
    clock = ManualClock(start=10.0)
    await asyncio.wait_for(clock.sleep_until(3.0), 0.5)
