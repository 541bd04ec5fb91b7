"""KafkaBus partitions keys as Kafka's default partitioner does (murmur2): a thing keeps its partition."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner

from centinela.infra.kafka_bus import _partitioner


def test_same_partition_as_the_default_partitioner() -> None:
    reference = DefaultPartitioner()
    for count in (1, 3, 12, 50):
        partitions = list(range(count))
        for i in range(500):
            key = f"org.acme.field:well-{i}".encode()
            assert _partitioner(key, partitions, partitions) == reference(key, partitions, partitions)
    assert _partitioner(None, [0, 1, 2], [1]) == 1  # no key: an available partition
