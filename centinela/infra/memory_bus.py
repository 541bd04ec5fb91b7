"""In-process bus: topics with keyed, ordered records and consumer groups, for embedded mode and tests."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from centinela.ports import Record

__all__ = ["MemoryBus", "MemoryConsumer"]


class _Topic:
    def __init__(self) -> None:
        self.records: list[Record] = []
        self.changed = asyncio.Condition()


class MemoryConsumer:
    """A consumer group member: reads from the group's committed position onwards."""

    def __init__(self, bus: MemoryBus, topics: Sequence[str], group: str) -> None:
        self._bus = bus
        self._topics = list(topics)
        self._group = group
        # Position of the next record to hand out, per topic (uncommitted).
        self._position = {t: bus.committed(group, t) for t in self._topics}
        self._closed = False

    async def getmany(self, *, timeout: float = 1.0, max_records: int = 1000) -> list[Record]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            batch = self._take(max_records)
            if batch or self._closed:
                return batch
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            try:
                await asyncio.wait_for(self._bus.wait_for_records(), remaining)
            except TimeoutError:
                return []

    def _take(self, max_records: int) -> list[Record]:
        out: list[Record] = []
        for name in self._topics:
            records = self._bus.topic(name).records
            start = self._position[name]
            chunk = records[start : start + max_records - len(out)]
            out.extend(chunk)
            self._position[name] = start + len(chunk)
            if len(out) >= max_records:
                break
        return out

    async def commit(self, records: Sequence[Record] | None = None) -> None:
        if records is None:
            for name, pos in self._position.items():
                self._bus.set_committed(self._group, name, pos)
            return
        for record in records:
            if record.offset + 1 > self._bus.committed(self._group, record.topic):
                self._bus.set_committed(self._group, record.topic, record.offset + 1)

    async def aclose(self) -> None:
        self._closed = True


class MemoryBus:
    """Topics held in memory. Each topic has one partition, so every key keeps its order."""

    def __init__(self) -> None:
        self._topics: dict[str, _Topic] = {}
        self._committed: dict[tuple[str, str], int] = {}
        self._arrived = asyncio.Event()

    def topic(self, name: str) -> _Topic:
        if name not in self._topics:
            self._topics[name] = _Topic()
        return self._topics[name]

    def records(self, topic: str) -> list[Record]:
        """Every record published to `topic` so far (for inspection and tests)."""
        return list(self.topic(topic).records)

    async def publish(
        self,
        topic: str,
        key: str | None,
        value: bytes,
        headers: Sequence[tuple[str, bytes]] = (),
    ) -> None:
        records = self.topic(topic).records
        records.append(Record(topic=topic, key=key, value=value, headers=tuple(headers), offset=len(records)))
        self._arrived.set()
        self._arrived = asyncio.Event()

    async def wait_for_records(self) -> None:
        await self._arrived.wait()

    async def flush(self) -> None:
        return None

    def committed(self, group: str, topic: str) -> int:
        return self._committed.get((group, topic), 0)

    def set_committed(self, group: str, topic: str, offset: int) -> None:
        self._committed[(group, topic)] = offset

    async def consumer(self, topics: Sequence[str], *, group: str) -> MemoryConsumer:
        return MemoryConsumer(self, topics, group)

    async def aclose(self) -> None:
        return None
