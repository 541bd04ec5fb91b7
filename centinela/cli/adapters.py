"""`centinela adapters check|run` and `centinela simulate modbus|opcua`: the edge from the command line."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from centinela.adapters.config import GatewayConfig, MappingError, SimulatorConfig
from centinela.adapters.mapping import load_gateway
from centinela.errors import CentinelaError

__all__ = ["register"]

adapters_app = typer.Typer(help="Edge adapters: Modbus TCP and OPC-UA into twins.", no_args_is_help=True)
simulate_app = typer.Typer(help="Device simulators exposing the demo well pad.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(adapters_app, name="adapters")
    app.add_typer(simulate_app, name="simulate")


@adapters_app.command("check")
def check(files: Annotated[list[Path], typer.Argument(help="Mapping files (.yaml, .yml or .toml).")]) -> None:
    """Validate mapping files; report every problem with file, point and field."""
    failed = False
    for path in files:
        try:
            config = load_gateway(path)
        except MappingError as exc:
            failed = True
            for problem in exc.problems:
                typer.echo(str(problem), err=True)
            continue
        points = sum(len(d.points) for d in config.modbus) + sum(len(e.points) for e in config.opcua)
        devices = len(config.modbus) + len(config.opcua)
        typer.echo(f"{path}: ok ({devices} devices, {points} points)")
    if failed:
        raise typer.Exit(1)


async def _run_gateway(
    config: GatewayConfig, output: str, twin_store: str, buffer: Path | None, duration: float | None
) -> dict[str, int]:
    from centinela.adapters.buffer import CommandQueue
    from centinela.adapters.gateway import Gateway
    from centinela.adapters.sinks import open_sink

    async with contextlib.AsyncExitStack() as stack:
        store: Any = None
        if output == "twin":
            from centinela.twin.store import EmbeddedTwinStore

            store = await stack.enter_async_context(EmbeddedTwinStore.from_url(twin_store))
        sink = await open_sink(output, store=store)
        queue = CommandQueue(buffer, config.buffer_max) if buffer else None
        gateway = await stack.enter_async_context(Gateway(config, sink, queue=queue))
        try:
            await asyncio.sleep(duration if duration is not None else float("inf"))
        except asyncio.CancelledError:
            pass
        return gateway.stats()
    return {}


@adapters_app.command("run")
def run(
    file: Annotated[Path, typer.Argument(help="The gateway's mapping file.")],
    output: str | None = typer.Option(
        None, help="twin | kafka://HOST:PORT/telemetry.raw | ditto+http://HOST:PORT (default: the file's)."
    ),
    twin_store: str = typer.Option(
        "sqlite:///.centinela/twins.sqlite", help="Embedded twin store URL for `--output twin`."
    ),
    buffer: Annotated[
        Path | None, typer.Option(help="Store-and-forward SQLite file (default: from the file).")
    ] = None,
    duration: float | None = typer.Option(None, help="Stop after this many seconds."),
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="Log device connections and output failures."
    ),
) -> None:
    """Run a gateway: poll and subscribe its devices and write their readings to the output."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING)
    try:
        config = load_gateway(file)
        stats = asyncio.run(_run_gateway(config, output or config.output, twin_store, buffer, duration))
    except MappingError as exc:
        for problem in exc.problems:
            typer.echo(str(problem), err=True)
        raise typer.Exit(1) from exc
    except CentinelaError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    except KeyboardInterrupt:
        return
    typer.echo(" ".join(f"{k}={v}" for k, v in stats.items()))


def _sim_config(path: Path | None, host: str | None, port: int | None, seed: int | None) -> SimulatorConfig:
    data: dict[str, Any] = {}
    if path is not None:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            config = SimulatorConfig.model_validate(data)
        except (OSError, yaml.YAMLError, ValueError) as exc:
            typer.echo(f"The simulator config {path} cannot be used: {exc}", err=True)
            raise typer.Exit(1) from exc
    else:
        config = SimulatorConfig()
    updates = {k: v for k, v in {"host": host, "port": port, "seed": seed}.items() if v is not None}
    return config.model_copy(update=updates)


async def _serve(kind: str, config: SimulatorConfig, duration: float | None) -> None:
    simulator: Any
    if kind == "modbus":
        from centinela.adapters.sim_modbus import ModbusWellPadSimulator

        simulator = ModbusWellPadSimulator(
            host=config.host, port=config.port or 5020, seed=config.seed,
            update_interval=config.update_interval, cycle=config.cycle,
        )  # fmt: skip
    else:
        from centinela.adapters.sim_opcua import OpcuaWellPadSimulator

        simulator = OpcuaWellPadSimulator(
            host=config.host, port=config.port or 4840, seed=config.seed,
            update_interval=config.update_interval, cycle=config.cycle,
            certificate=config.certificate, private_key=config.private_key,
        )  # fmt: skip
    async with simulator:
        where = getattr(simulator, "url", f"modbus://{simulator.host}:{simulator.port}")
        typer.echo(f"Simulating the well pad at {where} (seed {config.seed}); Ctrl-C stops.")
        await asyncio.sleep(duration if duration is not None else float("inf"))


def _simulate(kind: str, path: Path | None, host: str | None, port: int | None, seed: int | None,
              duration: float | None) -> None:  # fmt: skip
    config = _sim_config(path, host, port, seed)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(kind, config, duration))


_CONFIG = typer.Option(
    None, "--config", help="Simulator settings (YAML: host, port, seed, update_interval...)."
)


@simulate_app.command("modbus")
def simulate_modbus(
    config: Path | None = _CONFIG,
    host: str | None = typer.Option(None),
    port: int | None = typer.Option(None, help="TCP port (default 5020)."),
    seed: int | None = typer.Option(None),
    duration: float | None = typer.Option(None, help="Stop after this many seconds."),
) -> None:
    """Serve the well pad over Modbus TCP: unit 1-3 the wells, unit 4 the rig."""
    _simulate("modbus", config, host, port, seed, duration)


@simulate_app.command("opcua")
def simulate_opcua(
    config: Path | None = _CONFIG,
    host: str | None = typer.Option(None),
    port: int | None = typer.Option(None, help="TCP port (default 4840)."),
    seed: int | None = typer.Option(None),
    duration: float | None = typer.Option(None, help="Stop after this many seconds."),
) -> None:
    """Serve the well pad over OPC-UA at opc.tcp://HOST:PORT/centinela/ (namespace index 2)."""
    _simulate("opcua", config, host, port, seed, duration)
