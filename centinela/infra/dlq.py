"""Dead letters: a record a consumer cannot use goes, unchanged, to `<topic>.dlq` with the reason in headers.

Works over any `Bus` (Kafka or in-process). The original key, value and headers are kept; the
`centinela-dlq-*` headers say why and where from, so the record can be inspected and replayed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from centinela.ports import Bus, Record

__all__ = [
    "DLQ_SUFFIX",
    "DeadLetter",
    "dead_letter",
    "dlq_topic",
    "publish_json",
    "read_dead_letter",
    "thing_key",
]

DLQ_SUFFIX = ".dlq"
_PREFIX = "centinela-dlq-"


def dlq_topic(topic: str) -> str:
    """The dead-letter topic of `topic`."""
    return topic + DLQ_SUFFIX


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """What a dead-letter record says about itself."""

    reason: str
    error: str
    topic: str
    partition: int
    offset: int


async def dead_letter(bus: Bus, record: Record, reason: str, *, error: BaseException | None = None) -> None:
    """Publish `record` to `<topic>.dlq` with `reason` (a sentence) and the error type in headers.

    The caller should `flush` the bus before committing the original record's offset, like any
    other effect.
    """
    meta = (
        (_PREFIX + "reason", reason.encode("utf-8")),
        (_PREFIX + "error", type(error).__name__.encode() if error is not None else b""),
        (_PREFIX + "topic", record.topic.encode("utf-8")),
        (_PREFIX + "partition", str(record.partition).encode()),
        (_PREFIX + "offset", str(record.offset).encode()),
    )
    original = tuple(h for h in record.headers if not h[0].startswith(_PREFIX))
    await bus.publish(dlq_topic(record.topic), record.key, record.value, original + meta)


def read_dead_letter(record: Record) -> DeadLetter:
    """Decode the `centinela-dlq-*` headers of a dead-letter record."""
    h = {k[len(_PREFIX) :]: v.decode("utf-8", "replace") for k, v in record.headers if k.startswith(_PREFIX)}
    return DeadLetter(
        reason=h.get("reason", ""),
        error=h.get("error", ""),
        topic=h.get("topic", record.topic.removesuffix(DLQ_SUFFIX)),
        partition=int(h.get("partition", "-1") or -1),
        offset=int(h.get("offset", "-1") or -1),
    )


def thing_key(envelope: Mapping[str, Any]) -> str | None:
    """The record key of a Ditto Protocol envelope: the thing id `namespace:name` from its `topic`.

    `org.acme/well-7/things/twin/commands/merge` → `org.acme:well-7`; `None` when the topic
    does not name a thing (`_/_/things/...` wildcards, or no topic).
    """
    topic = envelope.get("topic")
    if not isinstance(topic, str):
        return None
    parts = topic.split("/", 2)
    if len(parts) < 2 or parts[0] == "_" or parts[1] == "_":
        return None
    return f"{parts[0]}:{parts[1]}"


async def publish_json(
    bus: Bus,
    topic: str,
    envelope: Mapping[str, Any],
    *,
    key: str | None = None,
    headers: tuple[tuple[str, bytes], ...] = (),
) -> None:
    """Publish a Ditto Protocol envelope as compact JSON, keyed by its thing id unless `key` is given."""
    value = json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    await bus.publish(topic, key if key is not None else thing_key(envelope), value, headers)
