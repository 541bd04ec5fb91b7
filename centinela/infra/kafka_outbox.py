"""`Outbox`: records batched per partition by Centinela and handed to the aiokafka producer whole.

`AIOKafkaProducer.send` costs tens of microseconds per record (metadata wait, partitioning, one
future per record); appending to a record batch costs about one. The outbox keeps one open batch
per (topic, partition); a single hand-off task gives each partition's batches to the producer
(`send_batch`) in order, so per-key order holds. While the producer is still busy with a
partition's previous batch, new records keep filling the open one: batches grow with the load
instead of the request count. Records are handed over `linger` seconds after the first one waiting
(0: as soon as the publishing code yields to the event loop, i.e. once per burst).

`append` only waits when `max_full_batches` sealed batches are queued (backpressure). `drain`
returns once every record queued before it is acknowledged by the broker (records queued meanwhile
do not hold it back), or raises `BusError` naming the first failure. A failed batch is not
retried here (the producer has retried it for `request_timeout_ms` already): the caller rewinds to
its last checkpoint, since nothing is committed past an unflushed record.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections import deque
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.partitioner import DefaultPartitioner, murmur2

from centinela.errors import BusError

__all__ = ["Outbox", "partition_for"]

log = logging.getLogger(__name__)

Where = tuple[str, int]


@functools.lru_cache(maxsize=65536)
def _key_hash(key: bytes) -> int:
    return int(murmur2(key)) & 0x7FFFFFFF


def partition_for(key: bytes | None, all_partitions: list[int], available: list[int]) -> int:
    """Kafka's default partitioning (murmur2 of the key, as Java clients do), hashing each key once."""
    if key is None:
        return int(DefaultPartitioner()(key, all_partitions, available))
    return all_partitions[_key_hash(key) % len(all_partitions)]


class Outbox:
    """Per-partition record batches of one producer; `append` queues, `drain` waits for the broker."""

    def __init__(
        self,
        producer: AIOKafkaProducer,
        *,
        linger: float = 0.0,
        max_record_bytes: int = 1024 * 1024,
        max_full_batches: int = 64,
    ) -> None:
        self._producer = producer
        self._linger = linger
        self._max_record_bytes = max_record_bytes
        self._max_full = max(max_full_batches, 1)
        self._partitions: dict[str, list[int]] = {}
        self._open: dict[Where, Any] = {}
        self._sealed: dict[Where, deque[Any]] = {}  # per partition, oldest first
        self._sealed_count = 0  # sealed and not handed yet
        self._sealed_total = 0
        self._handed_total = 0
        self._drains: list[tuple[int, asyncio.Future[None]]] = []
        self._inflight: set[asyncio.Future[Any]] = set()
        self._wake = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._timer: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None
        self._failure: BaseException | None = None
        self.batches = 0

    @property
    def waiting(self) -> int:
        """Batches queued here, not yet handed to the producer."""
        return len(self._open) + self._sealed_count

    async def _partitions_of(self, topic: str) -> list[int]:
        try:
            found = await self._producer.partitions_for(topic)
        except KafkaError as exc:
            msg = f"Kafka has no metadata for topic {topic!r}: {exc!r}."
            raise BusError(msg) from exc
        parts = self._partitions[topic] = sorted(found)
        return parts

    async def append(
        self, topic: str, key: bytes | None, value: bytes, headers: list[tuple[str, bytes]]
    ) -> None:
        """Queue one record; waits only while too many full batches are queued (backpressure)."""
        if len(value) > self._max_record_bytes:
            msg = (
                f"A record of {len(value)} bytes for topic {topic!r} exceeds the producer's limit of "
                f"{self._max_record_bytes} bytes."
            )
            raise BusError(msg)
        while not self._room.is_set():
            await self._room.wait()
        parts = self._partitions.get(topic) or await self._partitions_of(topic)
        where = (topic, partition_for(key, parts, parts))
        builder = self._open.get(where)
        if builder is None:
            builder = self._start(where)
        if builder.append(timestamp=None, key=key, value=value, headers=headers) is None:
            self._seal(where)
            builder = self._open[where] = self._producer.create_batch()
            builder.append(timestamp=None, key=key, value=value, headers=headers)  # an empty batch takes one
            self._wake.set()

    def _start(self, where: Where) -> Any:
        builder = self._open[where] = self._producer.create_batch()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._hand_off(), name="kafka-outbox")
        if self._timer is None:
            if self._linger > 0:
                self._timer = asyncio.get_running_loop().call_later(self._linger, self._fire)
            else:
                self._wake.set()
        return builder

    def _seal(self, where: Where) -> None:
        """Close a partition's open batch: it goes behind the partition's other sealed batches."""
        self._sealed.setdefault(where, deque()).append(self._open.pop(where))
        self._sealed_count += 1
        self._sealed_total += 1
        if self._sealed_count >= self._max_full:
            self._room.clear()

    def _fire(self) -> None:
        self._timer = None
        self._wake.set()

    async def _hand_off(self) -> None:
        """The one task giving batches to the producer, partition by partition, oldest first."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            try:
                while self._open or self._sealed:
                    for where in list(self._open):  # what gathered while the last round was sent
                        self._seal(where)
                    for where in list(self._sealed):
                        await self._hand_partition(where)
            except Exception as exc:  # never leave `drain` waiting: the failure is raised there
                log.exception("Kafka outbox: handing batches to the producer failed")
                if self._failure is None:
                    self._failure = exc
                self._open.clear()
                self._sealed.clear()
                self._sealed_count = 0
                self._handed_total = self._sealed_total
                self._progress()

    async def _hand_partition(self, where: Where) -> None:
        queue = self._sealed[where]
        while queue:  # batches sealed while we await join this queue, in order
            await self._send(where, queue[0])
            queue.popleft()
            self._sealed_count -= 1
            self._handed_total += 1
            self._progress()
        del self._sealed[where]

    def _progress(self) -> None:
        if self._sealed_count < self._max_full:
            self._room.set()
        if self._drains:
            done = [f for target, f in self._drains if target <= self._handed_total]
            self._drains = [(t, f) for t, f in self._drains if t > self._handed_total]
            for future in done:
                if not future.done():
                    future.set_result(None)

    async def _send(self, where: Where, builder: Any) -> None:
        topic, partition = where
        try:
            future = await self._producer.send_batch(builder, topic, partition=partition)
        except KafkaError as exc:
            log.warning("Kafka did not accept a batch of %d records for %s[%d]: %r",
                        builder.record_count(), topic, partition, exc)
            if self._failure is None:
                self._failure = exc
            return
        self.batches += 1
        self._inflight.add(future)
        future.add_done_callback(self._done)

    def _done(self, future: asyncio.Future[Any]) -> None:
        self._inflight.discard(future)
        if not future.cancelled() and future.exception() is not None and self._failure is None:
            self._failure = future.exception()

    async def drain(self) -> None:
        """Wait until every record queued so far is acknowledged by the broker (later ones go on)."""
        for where in list(self._open):
            self._seal(where)
        target = self._sealed_total
        if self._handed_total < target:
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._drains.append((target, future))
            if self._task is None or self._task.done():
                self._task = asyncio.create_task(self._hand_off(), name="kafka-outbox")
            self._wake.set()
            await future
        if self._inflight:
            await asyncio.gather(*list(self._inflight), return_exceptions=True)
        failure, self._failure = self._failure, None
        if failure is not None:
            msg = f"Kafka did not acknowledge every published record: {failure!r}."
            raise BusError(msg) from failure

    async def aclose(self) -> None:
        """Stop the hand-off task (call `drain` first to keep the queued records)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
