"""`KafkaBus`: the `Bus` port on Apache Kafka (aiokafka), idempotent producer and manually committed groups.

Producer: `acks=all` with idempotence, so a retried send never duplicates a record in the log; records
are keyed by thing id so one thing's records stay in one partition and in order. `publish` only
appends the record to its partition's open batch (`centinela.infra.kafka_outbox`; it waits when too
many full batches are queued: backpressure); `flush` returns once every queued record is acknowledged
by the broker, or raises `BusError` naming the first failure. Settings: `KafkaTuning`, also from the
URL's query (`kafka://host:9092?linger_ms=0&fetch_max_wait_ms=100`).

Consumers: one per group member, auto-commit off. Commit only after the effects of the records
are durable, in this order: flush the sinks (bus, history) → persist state → `commit`. A crash
before the commit redelivers the records (at-least-once); effects are idempotent.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError

from centinela.config import parse_kafka_url
from centinela.errors import BusError
from centinela.infra.kafka_admin import KafkaAdmin, TopicSpec
from centinela.infra.kafka_outbox import Outbox
from centinela.infra.kafka_outbox import partition_for as _partitioner
from centinela.infra.kafka_tuning import KafkaTuning
from centinela.ports import Record

__all__ = ["KafkaBus", "KafkaConsumer", "Partitions", "RebalanceCallback"]

log = logging.getLogger(__name__)

Partitions = list[tuple[str, int]]
"""`(topic, partition)` pairs handed to rebalance callbacks."""

RebalanceCallback = Callable[[Partitions], Awaitable[None]]


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, on_assigned: RebalanceCallback | None, on_revoked: RebalanceCallback | None) -> None:
        self._assigned = on_assigned
        self._revoked = on_revoked

    async def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        if self._revoked is not None and revoked:  # aiokafka also calls it, empty, before the first join
            await self._revoked(sorted((tp.topic, tp.partition) for tp in revoked))

    async def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        if self._assigned is not None:
            await self._assigned(sorted((tp.topic, tp.partition) for tp in assigned))


class KafkaConsumer:
    """A consumer-group member (`Consumer` port) with manual commits."""

    def __init__(self, consumer: AIOKafkaConsumer, bootstrap: str, group: str) -> None:
        self._consumer = consumer
        self._bootstrap = bootstrap
        self._group = group

    @property
    def assignment(self) -> Partitions:
        """The partitions this member owns now."""
        return sorted((tp.topic, tp.partition) for tp in self._consumer.assignment())

    async def getmany(self, *, timeout: float = 1.0, max_records: int = 1000) -> list[Record]:
        try:
            batches = await self._consumer.getmany(timeout_ms=int(timeout * 1000), max_records=max_records)
        except KafkaError as exc:
            msg = f"Kafka consumer of group {self._group!r} at {self._bootstrap} failed to fetch: {exc!r}."
            raise BusError(msg) from exc
        out: list[Record] = []
        append = out.append
        for tp, messages in batches.items():
            topic, partition = tp.topic, tp.partition
            for m in messages:
                key, headers = m.key, m.headers
                append(
                    Record(
                        topic,
                        key.decode("utf-8", "replace") if key is not None else None,
                        m.value if m.value is not None else b"",
                        tuple((h, v if v is not None else b"") for h, v in headers) if headers else (),
                        partition,
                        m.offset,
                        m.timestamp / 1000.0 if m.timestamp is not None else None,
                    )
                )
        return out

    async def commit(self, records: Sequence[Record] | None = None) -> None:
        target: dict[TopicPartition, int] | None = None  # None: every record returned so far
        if records is not None:
            last: dict[tuple[str, int], int] = {}
            for r in records:
                where = (r.topic, r.partition)
                if r.offset >= last.get(where, -1):
                    last[where] = r.offset
            owned = self._consumer.assignment()
            target = {
                tp: offset + 1 for (topic, part), offset in last.items()
                if (tp := TopicPartition(topic, part)) in owned
            }
            if not target:
                return
        try:
            await self._consumer.commit(target)
        except (CommitFailedError, IllegalStateError) as exc:
            # The group rebalanced: the new owner of those partitions gets the records again.
            log.warning("group %s: commit skipped after a rebalance (%r); records will be redelivered",
                        self._group, exc)
        except KafkaError as exc:
            msg = f"Kafka consumer of group {self._group!r} at {self._bootstrap} failed to commit: {exc!r}."
            raise BusError(msg) from exc

    async def seek_to_committed(self) -> None:
        """Rewind every owned partition to its committed offset (after a failed batch)."""
        for tp in self._consumer.assignment():
            committed = await self._consumer.committed(tp)
            if committed is None:
                await self._consumer.seek_to_beginning(tp)
            else:
                self._consumer.seek(tp, committed)

    async def aclose(self) -> None:
        await self._consumer.stop()


class KafkaBus:
    """The `Bus` port on Kafka. Open with `await KafkaBus.from_url("kafka://127.0.0.1:59092")`."""

    def __init__(
        self,
        bootstrap: str,
        *,
        client_id: str = "centinela",
        partitions: Mapping[str, int] | None = None,
        default_partitions: int = 1,
        tuning: KafkaTuning | None = None,
    ) -> None:
        self.bootstrap = bootstrap
        self._client_id = client_id
        self._partitions = dict(partitions or {})
        self._default_partitions = default_partitions
        self._tuning = t = tuning or KafkaTuning()
        self._admin = KafkaAdmin(bootstrap, client_id=f"{client_id}-admin")
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            client_id=client_id,
            acks="all",
            enable_idempotence=True,
            partitioner=_partitioner,
            linger_ms=t.linger_ms,
            max_batch_size=t.max_batch_size,
            max_request_size=t.max_request_size,
            request_timeout_ms=t.request_timeout_ms,
        )
        self._outbox = Outbox(self._producer, linger=t.linger_ms / 1000, max_record_bytes=t.max_request_size,
                              max_full_batches=t.max_queued_batches)

    @property
    def outbox(self) -> Outbox:
        """The per-partition batches of the producer (figures: `waiting`, `batches`)."""
        return self._outbox

    @classmethod
    async def from_url(
        cls, url: str, *, partitions: Mapping[str, int] | None = None, tuning: KafkaTuning | None = None
    ) -> KafkaBus:
        """Connect to the cluster a `kafka://host:port[,host:port]?partitions=N&linger_ms=0…` URL names.

        The query may set any `KafkaTuning` field, on top of `tuning`.
        """
        parsed = parse_kafka_url(url)
        bus = cls(
            parsed.bootstrap,
            client_id=parsed.client_id,
            partitions=partitions,
            default_partitions=parsed.partitions,
            tuning=KafkaTuning.from_url(url, tuning),
        )
        await bus.start()
        return bus

    async def start(self) -> None:
        await self._admin.start()
        try:
            await self._producer.start()
        except KafkaError as exc:
            await self._admin.aclose()
            msg = f"Kafka producer cannot connect to {self.bootstrap}: {exc!r}."
            raise BusError(msg) from exc

    def topic_spec(self, topic: str) -> TopicSpec:
        return TopicSpec(topic, self._partitions.get(topic, self._default_partitions))

    async def ensure_topics(self, topics: Sequence[str]) -> None:
        """Create the topics that are missing, with their configured number of partitions."""
        await self._admin.ensure(self.topic_spec(t) for t in topics)

    async def publish(
        self,
        topic: str,
        key: str | None,
        value: bytes,
        headers: Sequence[tuple[str, bytes]] = (),
    ) -> None:
        if not self._admin.known(topic):
            await self.ensure_topics([topic])
        await self._outbox.append(topic, key.encode("utf-8") if key is not None else None, value,
                                  list(headers))

    async def flush(self) -> None:
        """Return once every record published before this call is acknowledged by all in-sync replicas."""
        await self._outbox.drain()  # every record goes through the outbox

    async def consumer(
        self,
        topics: Sequence[str],
        *,
        group: str,
        on_assigned: RebalanceCallback | None = None,
        on_revoked: RebalanceCallback | None = None,
    ) -> KafkaConsumer:
        """Join `group` on `topics`; a new group starts at the earliest records."""
        await self.ensure_topics(topics)
        t = self._tuning
        inner = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            client_id=self._client_id,
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=t.session_timeout_ms,
            heartbeat_interval_ms=t.heartbeat_interval_ms,
            max_partition_fetch_bytes=t.max_partition_fetch_bytes,
            fetch_max_wait_ms=t.fetch_max_wait_ms,
            fetch_min_bytes=t.fetch_min_bytes,
            request_timeout_ms=t.request_timeout_ms,
        )
        inner.subscribe(list(topics), listener=_Listener(on_assigned, on_revoked))
        try:
            await inner.start()
        except KafkaError as exc:
            msg = f"Kafka consumer of group {group!r} cannot connect to {self.bootstrap}: {exc!r}."
            raise BusError(msg) from exc
        return KafkaConsumer(inner, self.bootstrap, group)

    async def aclose(self) -> None:
        try:
            await self.flush()
        finally:
            await self._outbox.aclose()
            await self._producer.stop()
            await self._admin.aclose()
