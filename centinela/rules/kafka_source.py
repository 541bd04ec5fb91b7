"""`centinela run --source kafka://…/twin.events`: open the bus, stores and sinks, run an `EngineWorker`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

from centinela.config import open_history_store, open_state_store
from centinela.errors import ConfigError
from centinela.ports import HistoryStore, StateStore
from centinela.rules.bus_sinks import AlarmSink, CommandSink
from centinela.rules.loading import load_program
from centinela.rules.output import StepOutput
from centinela.rules.sinks import HistorySink, Sink
from centinela.rules.worker import EngineWorker, WorkerSettings

__all__ = ["KafkaSource", "open_worker_state", "parse_source", "run_worker"]

log = logging.getLogger(__name__)
Echo = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class KafkaSource:
    """A `kafka://host:port[,host:port]/topic[?query]` source: the bus URL and the topic."""

    bus_url: str
    topic: str


def parse_source(url: str) -> KafkaSource:
    """Split a source URL into the bus URL (`kafka://host:port?…`) and the topic (default `twin.events`)."""
    parts = urlsplit(url)
    if parts.scheme != "kafka" or not parts.netloc:
        msg = f"The source {url!r} is not a Kafka URL; expected kafka://host:port/twin.events."
        raise ConfigError(msg)
    topic = parts.path.strip("/") or "twin.events"
    if "/" in topic:
        msg = f"The source {url!r} names the topic {topic!r}; a topic name cannot contain '/'."
        raise ConfigError(msg)
    bus_url = f"kafka://{parts.netloc}" + (f"?{parts.query}" if parts.query else "")
    return KafkaSource(bus_url, topic)


async def open_worker_state(url: str) -> StateStore:
    """The checkpoint store a URL names: `redis://…`, `postgresql://…`, `sqlite:///path` or `memory://`."""
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        from centinela.infra.sqlite_state import SqliteStateStore

        return SqliteStateStore(url)
    if scheme in {"postgresql", "postgres"}:
        from centinela.infra.postgres_state import PostgresStateStore

        return await PostgresStateStore.open(url)
    try:
        return await open_state_store(url)
    except ConfigError:
        msg = (
            f"The state store URL {url!r} is not supported; "
            "expected redis://…, postgresql://…, sqlite:///path or memory://."
        )
        raise ConfigError(msg) from None


async def run_worker(
    rules: Sequence[Path],
    source: str,
    *,
    group: str,
    state_url: str,
    history_url: str | None,
    commands: str | None,
    echo: Echo,
    alarms_prefix: str = "",
    stop: asyncio.Event | None = None,
    settings: WorkerSettings | None = None,
) -> EngineWorker:
    """Run one worker of `group` until `stop` is set or the task is cancelled; returns it when stopped."""
    from centinela.infra.kafka_bus import KafkaBus

    program = load_program(rules)
    where = parse_source(source)
    bus = await KafkaBus.from_url(where.bus_url)
    state: StateStore | None = None
    history: HistoryStore | None = None
    try:
        state = await open_worker_state(state_url)
        sinks: list[Sink] = []
        if commands:
            sinks.append(CommandSink(bus, commands))
        sinks.append(AlarmSink(bus, alarms_prefix))
        if history_url:
            history = await open_history_store(history_url)
            sinks.append(HistorySink(history))
        chosen = settings or WorkerSettings(freeze_gc=True)  # one worker for the process's lifetime
        worker = EngineWorker(program, bus, state, sinks, replace(chosen, topic=where.topic, group=group))
        worker.on_output = _printer(echo)
        echo(f"Engine worker of group {group!r} running {', '.join(program.classes)} on {source}")
        await worker.run(stop)
        return worker
    finally:
        if history is not None:
            await history.aclose()
        if state is not None:
            await state.aclose()
        await bus.aclose()


def _printer(echo: Echo) -> Callable[[StepOutput], None]:
    def show(out: StepOutput) -> None:
        for a in out.alarms:
            echo(f"{a.time:.3f} {a.thing_id} {a.rule} {a.previous} -> {a.state} [{a.severity}] {a.id}")

    return show
