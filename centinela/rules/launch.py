"""Long-running engine processes behind `centinela run` and `centinela serve`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path

from centinela.clock import SystemClock
from centinela.dsl.program import Program
from centinela.errors import ConfigError
from centinela.infra.memory_state import MemoryStateStore
from centinela.infra.sqlite_history import SqliteHistoryStore
from centinela.infra.sqlite_state import SqliteStateStore
from centinela.ports import StateStore, TwinStore
from centinela.rules.loading import load_program
from centinela.rules.output import StepOutput
from centinela.rules.reload import Watcher
from centinela.rules.runtime import Runtime
from centinela.rules.sinks import HistorySink, TwinSink
from centinela.rules.stack import EngineConfig, embedded_stack, load_config

__all__ = ["open_twin", "run_engine", "serve", "serve_config"]

Echo = Callable[[str], None]


def open_twin(url: str) -> TwinStore:
    """`embedded` (in memory), `memory://`, `sqlite:///…` (embedded store) or `ditto+http(s)://…`."""
    if url.startswith("ditto+"):
        from centinela.twin.client import DittoTwinStore

        return DittoTwinStore.from_url(url)
    from centinela.twin.store import EmbeddedTwinStore

    if url in ("embedded", "memory://") or url.startswith("sqlite:///"):
        return EmbeddedTwinStore.from_url(None if url == "embedded" else url)
    msg = f"The twin store URL {url!r} is not one of embedded, memory://, sqlite:///… or ditto+http://…."
    raise ConfigError(msg)


def _printer(echo: Echo) -> Callable[[StepOutput], None]:
    def show(out: StepOutput) -> None:
        for event in out.alarms:
            echo(
                f"{event.time:.3f} {event.severity:8} {event.rule} {event.thing_id} -> {event.state}: "
                f"{event.message}"
            )
        for health in out.health:
            echo(f"{health.time:.3f} rule {health.rule} on {health.thing_id}: {health.error or 'recovered'}")

    return show


async def _watch(paths: Sequence[Path], runtime: Runtime, echo: Echo) -> None:
    async def apply(program: Program) -> None:
        out = StepOutput()
        runtime.engine.swap(program, runtime.clock.now(), out)
        await runtime._emit(out)  # noqa: SLF001 - the runtime's own emission path
        echo(f"Rules reloaded: {', '.join(program.classes)}")
        async for thing in runtime.twin.search():  # classes that are new bind now
            out = StepOutput()
            runtime.engine.bind(thing, runtime.clock.now(), out)
            await runtime._emit(out)  # noqa: SLF001

    await Watcher(paths, apply, report=echo).run()


async def run_engine(
    rules: Sequence[Path], twin_url: str, history_url: str, state_url: str, *, watch: bool, echo: Echo
) -> None:
    program = load_program(rules)
    twin = open_twin(twin_url)
    history = SqliteHistoryStore(history_url)
    state: StateStore = SqliteStateStore(state_url) if state_url else MemoryStateStore()
    opener = getattr(twin, "open", None)
    if opener is not None:
        await opener()
    clock = SystemClock()
    runtime = Runtime(
        program, twin, clock, [TwinSink(twin), HistorySink(history)], state=state, on_output=_printer(echo)
    )
    echo(f"Engine running {', '.join(program.classes)} against {twin_url}")
    try:
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(runtime.run())
            if watch:
                tasks.create_task(_watch(rules, runtime, echo))
    finally:
        await runtime.checkpoint()
        echo(f"Engine stopped: {runtime.stats()}")
        await history.aclose()
        await state.aclose()
        closer = getattr(twin, "aclose", None)
        if closer is not None:
            await closer()


def serve_config(config_path: Path | None) -> EngineConfig:
    """The configuration `centinela serve` runs: the file's, with `freeze_gc` on unless it says."""
    config = load_config(config_path)
    if "freeze_gc" not in config.model_fields_set:  # one runtime for the process's lifetime
        config = config.model_copy(update={"freeze_gc": True})
    return config


async def serve(config_path: Path | None, *, echo: Echo) -> None:
    config = serve_config(config_path)
    paths = [Path(p) for p in config.rules]
    program = load_program(paths)
    async with embedded_stack(program, config, on_output=_printer(echo)) as stack:
        echo(f"Twin API: {stack.url}/api/2/things   WebSocket: {stack.url.replace('http', 'ws', 1)}/ws/2")
        echo(f"History: {config.history}   rules: {', '.join(program.classes)}")
        try:
            if config.watch:
                await _watch(paths, stack.runtime, echo)
            else:
                await asyncio.Event().wait()
        finally:
            echo(f"Engine stopped: {stack.runtime.stats()}")
