"""`KafkaTuning`: the producer and consumer settings of a `KafkaBus`, from a `kafka://` URL's query.

`kafka://host:9092?linger_ms=0&fetch_max_wait_ms=50` sets them per deployment; unknown query keys
are left to `centinela.config.parse_kafka_url` (`partitions`, `client_id`). Defaults favour low
latency without costing throughput: records are batched per partition by the bus itself (see
`centinela.infra.kafka_outbox`), so a zero linger still sends large batches under load.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from urllib.parse import parse_qsl, urlsplit

from centinela.errors import ConfigError

__all__ = ["KafkaTuning"]


@dataclass(frozen=True, slots=True)
class KafkaTuning:
    """Producer and consumer settings; durations in milliseconds, as Kafka names them."""

    linger_ms: int = 0
    """How long the first queued record waits for others before its batch goes (0: once per burst)."""
    max_batch_size: int = 256 * 1024
    """Bytes per record batch (one partition); a record larger than this travels alone."""
    max_request_size: int = 1024 * 1024
    """The largest record accepted; a larger one is refused with `BusError` when published."""
    max_queued_batches: int = 64
    """Full batches waiting for the broker before `publish` waits (backpressure)."""
    request_timeout_ms: int = 30_000
    session_timeout_ms: int = 10_000
    heartbeat_interval_ms: int = 1_000
    max_partition_fetch_bytes: int = 4 * 1024 * 1024
    fetch_max_wait_ms: int = 20
    """How long the broker holds a fetch with less than `fetch_min_bytes` (Kafka's default: 500).

    aiokafka keeps one fetch in flight per broker and leaves out of it the partitions whose records
    are still buffered; once those are consumed they wait for the fetch in flight, which the broker
    may hold this long when the other partitions are quiet. So this bounds the added latency; the
    cost is this many idle fetches per second per consumer.
    """
    fetch_min_bytes: int = 1

    @classmethod
    def from_url(cls, url: str, base: KafkaTuning | None = None) -> KafkaTuning:
        """The tuning a URL's query sets (on top of `base`); a bad value is a `ConfigError`."""
        tuning = base or cls()
        names = {f.name for f in fields(cls)}
        changes: dict[str, int] = {}
        for name, raw in parse_qsl(urlsplit(url).query):
            if name not in names:
                continue
            try:
                value = int(raw)
            except ValueError:
                value = -1
            if value < 0 or (value == 0 and name != "linger_ms"):
                msg = (
                    f"The Kafka URL {url!r} sets {name}={raw!r}; expected a "
                    f"{'non-negative' if name == 'linger_ms' else 'positive'} integer."
                )
                raise ConfigError(msg)
            changes[name] = value
        return replace(tuning, **changes) if changes else tuning
