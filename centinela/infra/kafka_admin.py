"""Kafka topic administration: create Centinela's topics with their configured partitions (aiokafka admin)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from centinela.errors import BusError

__all__ = ["CENTINELA_TOPICS", "KafkaAdmin", "TopicSpec"]

log = logging.getLogger(__name__)

CENTINELA_TOPICS: tuple[str, ...] = (
    "telemetry.raw",
    "twin.events",
    "twin.commands",
    "alarms.critical",
    "alarms.warnings",
    "events.system",
)
"""The topics of distributed mode (architecture.md); each has a `<topic>.dlq` companion."""


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """A topic to create: name, partitions, replication factor and topic configs."""

    name: str
    partitions: int = 1
    replication: int = 1
    config: Mapping[str, str] = field(default_factory=dict)


class KafkaAdmin:
    """Creates topics once; remembers which exist so repeated `ensure` calls cost nothing."""

    def __init__(self, bootstrap: str, *, client_id: str = "centinela-admin", timeout: float = 30.0) -> None:
        self._bootstrap = bootstrap
        self._client = AIOKafkaAdminClient(
            bootstrap_servers=bootstrap, client_id=client_id, request_timeout_ms=int(timeout * 1000)
        )
        self._known: set[str] = set()
        self._lock = asyncio.Lock()
        self._started = False

    async def start(self) -> None:
        try:
            await self._client.start()
        except KafkaError as exc:
            msg = f"Kafka at {self._bootstrap} cannot be reached for topic administration: {exc!r}."
            raise BusError(msg) from exc
        self._started = True

    def known(self, name: str) -> bool:
        """Whether topic `name` is known to exist (without asking the cluster)."""
        return name in self._known

    async def topics(self) -> set[str]:
        """Names of every topic on the cluster."""
        try:
            names = await self._client.list_topics()
        except KafkaError as exc:
            msg = f"Kafka at {self._bootstrap} did not list its topics: {exc!r}."
            raise BusError(msg) from exc
        self._known.update(names)
        return set(names)

    async def ensure(self, specs: Iterable[TopicSpec]) -> list[str]:
        """Create the topics that do not exist yet; return the names created."""
        wanted = [s for s in specs if s.name not in self._known]
        if not wanted:
            return []
        async with self._lock:
            existing = await self.topics()
            missing = [s for s in wanted if s.name not in existing]
            created: list[str] = []
            for spec in missing:
                topic = NewTopic(
                    name=spec.name,
                    num_partitions=spec.partitions,
                    replication_factor=spec.replication,
                    topic_configs=dict(spec.config),
                )
                try:
                    response = await self._client.create_topics([topic])
                except TopicAlreadyExistsError:
                    pass
                except KafkaError as exc:
                    msg = f"Kafka at {self._bootstrap} did not create topic {spec.name!r}: {exc!r}."
                    raise BusError(msg) from exc
                else:
                    _check(response, spec.name)
                    created.append(spec.name)
                self._known.add(spec.name)
            if created:
                log.info("created Kafka topics %s", ", ".join(created))
            return created

    async def delete(self, names: Iterable[str]) -> None:
        """Delete topics (tests and tooling); missing ones are ignored."""
        names = [n for n in names if n in await self.topics()]
        if names:
            await self._client.delete_topics(names)
            self._known.difference_update(names)

    async def aclose(self) -> None:
        if self._started:
            self._started = False
            await self._client.close()


_TOPIC_ALREADY_EXISTS = 36


def _check(response: object, name: str) -> None:
    """Raise for an error code in a CreateTopics response other than 'already exists'."""
    for entry in getattr(response, "topic_errors", ()) or ():
        code = entry[1]
        if code not in (0, _TOPIC_ALREADY_EXISTS):
            message = entry[2] if len(entry) > 2 else ""
            msg = f"Kafka refused to create topic {name!r}: error code {code} {message}."
            raise BusError(msg)
