from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest

from centinela.adapters.buffer import CommandQueue, StoreAndForward
from centinela.adapters.output import Command, CommandRejected, OutputUnavailable, batch_commands
from centinela.adapters.readings import Reading


def _commands(n: int, start: int = 0) -> list[Command]:
    readings = [
        Reading("org.acme.wells:well-01", "pressure", "tubing", float(i), float(i))
        for i in range(start, start + n)
    ]
    return batch_commands(readings)


def _values(commands: Sequence[Command]) -> list[float]:
    return [c.envelope["value"]["pressure"]["properties"]["tubing"] for c in commands]


class FlakySink:
    """Records what it accepts; `down` makes it refuse, `reject` refuses one value for good."""

    def __init__(self) -> None:
        self.accepted: list[Command] = []
        self.down = False
        self.reject: float | None = None
        self.accepted_event = asyncio.Event()

    async def send(self, commands: Sequence[Command]) -> None:
        for i, command in enumerate(commands):
            if self.down:
                raise OutputUnavailable("down", sent=i)
            if _values([command])[0] == self.reject:
                raise CommandRejected("rejected", index=i)
            self.accepted.append(command)
        self.accepted_event.set()

    async def aclose(self) -> None:
        return None


async def test_queue_is_bounded_and_counts_what_it_drops(tmp_path: Path) -> None:
    queue = CommandQueue(tmp_path / "q.sqlite", max_items=5)
    assert await queue.put(_commands(3)) == 0
    assert await queue.put(_commands(4, start=3)) == 2
    assert len(queue) == 5 and queue.dropped == 2
    assert _values([c for _, c in await queue.peek()]) == [2.0, 3.0, 4.0, 5.0, 6.0]
    queue.close()
    reopened = CommandQueue(tmp_path / "q.sqlite", max_items=5)
    assert len(reopened) == 5 and reopened.dropped == 2
    ids = [i for i, _ in await reopened.peek(2)]
    await reopened.remove(ids)
    assert _values([c for _, c in await reopened.peek()]) == [4.0, 5.0, 6.0]
    reopened.close()


async def test_output_down_queues_then_replays_in_order(tmp_path: Path) -> None:
    sink = FlakySink()
    forwarder = StoreAndForward(
        sink, CommandQueue(tmp_path / "q.sqlite", 1000), retry_initial=0.01, retry_max=0.02
    )
    runner = asyncio.create_task(forwarder.run())
    try:
        await forwarder.send(_commands(2))
        sink.down = True
        await forwarder.send(_commands(3, start=2))
        sink.down = False
        # Output is back, but what is queued must go first.
        await forwarder.send(_commands(2, start=5))
        await asyncio.wait_for(forwarder.drained(), 5)
    finally:
        runner.cancel()
    assert _values(sink.accepted) == [float(i) for i in range(7)]
    assert forwarder.replayed == 5 and forwarder.sent == 7 and forwarder.dropped == 0
    forwarder.queue.close()


async def test_rejected_commands_are_counted_and_skipped(tmp_path: Path) -> None:
    sink = FlakySink()
    sink.reject = 1.0
    forwarder = StoreAndForward(sink, CommandQueue(":memory:", 10))
    await forwarder.send(_commands(3))
    assert _values(sink.accepted) == [0.0, 2.0]
    assert forwarder.rejected == 1


def test_a_queue_needs_room() -> None:
    with pytest.raises(Exception, match="at least 1, not 0"):
        CommandQueue(":memory:", 0)
