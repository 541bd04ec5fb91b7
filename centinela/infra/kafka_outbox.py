"""`Outbox`: records batched per partition by Centinela and handed to the aiokafka producer whole.

`AIOKafkaProducer.send` costs tens of microseconds per record (metadata wait, partitioning, one
future per record); appending to a record batch costs about one. The outbox keeps one open batch
per (topic, partition); each partition with something to send has one hand-off task giving its
batches to the producer (`send_batch`) in order, so per-key order holds, and no partition waits
for another. While the producer is still busy with a partition's previous batch, new records keep
filling the open one: batches grow with the load instead of the request count. Records are handed
over `linger` seconds after the first one waiting (0: as soon as the publishing code yields to the
event loop, i.e. once per burst).

The partitions of each topic are remembered from the producer's metadata and follow its updates
(partitions added to a topic are used after the next refresh, as Kafka's own clients do).

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
        self._sealed_count = 0  # sealed and not handed yet, all partitions
        self._sealed_seq: dict[Where, int] = {}  # batches sealed so far, per partition
        self._handed_seq: dict[Where, int] = {}  # batches handed (or failed) so far, per partition
        self._tasks: dict[Where, asyncio.Task[None]] = {}  # the hand-off task of each busy partition
        self._drains: list[tuple[dict[Where, int], asyncio.Future[None]]] = []
        self._inflight: set[asyncio.Future[Any]] = set()
        self._room = asyncio.Event()
        self._room.set()
        self._timer: asyncio.TimerHandle | None = None
        self._failure: BaseException | None = None
        self.batches = 0
        cluster = getattr(getattr(producer, "client", None), "cluster", None)
        if cluster is not None:  # partitions added to a topic are used once the metadata knows them
            cluster.add_listener(self._metadata_updated)

    @property
    def waiting(self) -> int:
        """Batches queued here, not yet handed to the producer."""
        return len(self._open) + self._sealed_count

    def _metadata_updated(self, cluster: Any) -> None:
        for topic in list(self._partitions):
            found = cluster.partitions_for_topic(topic)
            if found:
                self._partitions[topic] = sorted(found)

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
            builder = self._open[where] = self._producer.create_batch()
            if self._linger <= 0:
                self._kick(where)  # its task runs once this burst of appends yields
            elif self._timer is None:
                self._timer = asyncio.get_running_loop().call_later(self._linger, self._fire)
        if builder.append(timestamp=None, key=key, value=value, headers=headers) is None:
            self._seal(where)
            self._kick(where)
            builder = self._open[where] = self._producer.create_batch()
            builder.append(timestamp=None, key=key, value=value, headers=headers)  # an empty batch takes one

    def _seal(self, where: Where) -> None:
        """Close a partition's open batch: it goes behind the partition's other sealed batches."""
        self._sealed.setdefault(where, deque()).append(self._open.pop(where))
        self._sealed_seq[where] = self._sealed_seq.get(where, 0) + 1
        self._sealed_count += 1
        if self._sealed_count >= self._max_full:
            self._room.clear()

    def _fire(self) -> None:
        self._timer = None
        for where in list(self._open):
            self._kick(where)

    def _kick(self, where: Where) -> None:
        """Make sure the partition's hand-off task runs."""
        task = self._tasks.get(where)
        if task is None or task.done():
            self._tasks[where] = asyncio.create_task(self._hand_off(where), name=f"kafka-outbox-{where}")

    async def _hand_off(self, where: Where) -> None:
        """Give the partition's batches to the producer, oldest first, until it has none left."""
        try:
            while True:
                if where in self._open:  # what gathered while the last batch was being handed
                    self._seal(where)
                queue = self._sealed.get(where)
                if not queue:
                    break
                await self._send(where, queue[0])  # waits while the partition's previous batch is queued
                queue.popleft()
                self._handed(where, 1)
        except Exception as exc:  # never leave `drain` waiting: the failure is raised there
            log.exception("Kafka outbox: handing batches of %s[%d] to the producer failed", *where)
            if self._failure is None:
                self._failure = exc
            self._open.pop(where, None)
            queue = self._sealed.pop(where, None)
            self._handed(where, len(queue) if queue else 0)
        finally:
            if not self._sealed.get(where):
                self._sealed.pop(where, None)
            if self._tasks.get(where) is asyncio.current_task():
                del self._tasks[where]

    def _handed(self, where: Where, count: int) -> None:
        if count:
            self._sealed_count -= count
            self._handed_seq[where] = self._handed_seq.get(where, 0) + count
        if self._sealed_count < self._max_full:
            self._room.set()
        if self._drains:
            handed = self._handed_seq
            still: list[tuple[dict[Where, int], asyncio.Future[None]]] = []
            for targets, future in self._drains:
                if all(handed.get(w, 0) >= n for w, n in targets.items()):
                    if not future.done():
                        future.set_result(None)
                else:
                    still.append((targets, future))
            self._drains = still

    async def _send(self, where: Where, builder: Any) -> None:
        topic, partition = where
        builder.close()  # complete: the producer sends it without lingering on it
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
        targets = {
            where: n for where, n in self._sealed_seq.items() if self._handed_seq.get(where, 0) < n
        }
        if targets:
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._drains.append((targets, future))
            for where in targets:
                self._kick(where)
            await future
        if self._inflight:
            await asyncio.gather(*list(self._inflight), return_exceptions=True)
        failure, self._failure = self._failure, None
        if failure is not None:
            msg = f"Kafka did not acknowledge every published record: {failure!r}."
            raise BusError(msg) from failure

    async def aclose(self) -> None:
        """Stop the hand-off tasks (call `drain` first to keep the queued records)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
