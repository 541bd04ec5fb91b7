"""The embedded stack in one process: twin service on loopback, engine, SQLite history and state."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, Field, ValidationError

from centinela.clock import SystemClock
from centinela.dsl.program import Program
from centinela.errors import ConfigError
from centinela.infra.memory_state import MemoryStateStore
from centinela.infra.sqlite_history import SqliteHistoryStore
from centinela.infra.sqlite_state import SqliteStateStore
from centinela.ports import Clock, StateStore
from centinela.rules.output import StepOutput
from centinela.rules.runtime import Runtime
from centinela.rules.sinks import HistorySink, Sink, TwinSink
from centinela.twin.http.config import TwinServiceSettings
from centinela.twin.http.service import TwinServer
from centinela.twin.store import EmbeddedTwinStore

__all__ = ["EngineConfig", "Stack", "embedded_stack", "load_config"]


class EngineConfig(BaseModel):
    """`centinela serve --config FILE` (YAML): where rules, history, state and twins live."""

    rules: list[str] = Field(default_factory=lambda: ["examples"])
    history: str = "sqlite:///.centinela/history.db"
    state: str | None = "sqlite:///.centinela/state.db"
    twins: str | None = "sqlite:///.centinela/twins.db"
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    checkpoint_seconds: float = Field(default=5.0, gt=0)
    watch: bool = False
    # Keep the runtime's live state out of the garbage collector's full scans (process-wide,
    # `centinela.gcfreeze`); `centinela serve` turns it on unless the file says otherwise.
    freeze_gc: bool = False


def load_config(path: Path | None) -> EngineConfig:
    if path is None:
        return EngineConfig()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return EngineConfig.model_validate(data)
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        msg = f"The engine configuration {path} cannot be used: {exc}"
        raise ConfigError(msg) from exc


@dataclass(slots=True)
class Stack:
    store: EmbeddedTwinStore
    server: TwinServer
    runtime: Runtime
    history: SqliteHistoryStore

    @property
    def url(self) -> str:
        return self.server.url


@contextlib.asynccontextmanager
async def embedded_stack(
    program: Program,
    config: EngineConfig,
    *,
    clock: Clock | None = None,
    on_output: Callable[[StepOutput], None] | None = None,
) -> AsyncIterator[Stack]:
    """Start the twin service, the engine and history; stop them (checkpointing) when the block ends."""
    clock = clock or SystemClock()
    store = EmbeddedTwinStore.from_url(config.twins or "memory://", clock=clock)
    history = SqliteHistoryStore(config.history)
    state: StateStore = SqliteStateStore(config.state) if config.state else MemoryStateStore()
    settings = TwinServiceSettings(host=config.host, port=config.port)
    async with store:
        async with TwinServer(store, settings) as server:
            sinks: list[Sink] = [TwinSink(store, coalesce=True), HistorySink(history)]
            runtime = Runtime(
                program,
                store,
                clock,
                sinks,
                state=state,
                checkpoint_seconds=config.checkpoint_seconds,
                on_output=on_output,
                freeze_gc=config.freeze_gc,
            )
            task = asyncio.create_task(runtime.run())
            ready = asyncio.create_task(runtime.ready.wait())
            await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
            if task.done():
                ready.cancel()
                await task  # raises what stopped it
            try:
                yield Stack(store, server, runtime, history)
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                await runtime.checkpoint()
                await history.aclose()
                await state.aclose()
