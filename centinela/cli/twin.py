"""`centinela twin serve`: run the embedded Ditto-compatible twin service on its own.

With `--connection FILE` it also runs that Ditto Kafka connection (sources' commands in, twin
events out, as Ditto's connectivity service does) against the broker of `--kafka` or
`CENTINELA_KAFKA`: the twin service of the distributed pipeline when no Ditto is installed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import ValidationError

from centinela.errors import BusError, ConfigError
from centinela.twin.http import TwinServer, TwinServiceSettings
from centinela.twin.store import EmbeddedTwinStore

if TYPE_CHECKING:
    from centinela.twin.connectivity import Connection

__all__ = ["register", "serve"]

twin_app = typer.Typer(help="The embedded Ditto-compatible twin service.", no_args_is_help=True)


async def _serve(settings: TwinServiceSettings, connection: Connection | None, kafka: str) -> None:
    async with EmbeddedTwinStore.from_url(settings.db) as store, contextlib.AsyncExitStack() as stack:
        if connection is not None:
            from centinela.infra.kafka_bus import KafkaBus
            from centinela.twin.connectivity import KafkaConnectivity

            bus = await KafkaBus.from_url(kafka)
            stack.push_async_callback(bus.aclose)
            # One connection for the process's lifetime: its long-lived objects are kept out of full
            # garbage collections (centinela.gcfreeze).
            await stack.enter_async_context(KafkaConnectivity(connection, bus, store, freeze_gc=True))
            sources = ", ".join(a for s in connection.sources for a in s.addresses)
            targets = ", ".join(t.address for t in connection.targets)
            typer.echo(f"Ditto connection {connection.id!r} on {kafka}: commands from {sources}; "
                       f"twin events to {targets}.")
        server = TwinServer(store, settings)
        await server.start()
        where = settings.db or "memory (lost on exit)"
        typer.echo(f"Twin service on {server.url} (HTTP API v2, /ws/2, SSE); twins in {where}.")
        if settings.uses_default_user:
            typer.echo("No users configured: the default user 'ditto'/'ditto' is accepted (loopback only).")
        try:
            await server.wait()
        finally:
            await server.stop()


@twin_app.command("serve")
def serve(
    db: Annotated[Path | None, typer.Option("--db", help="SQLite file keeping the twins.")] = None,
    host: Annotated[str | None, typer.Option("--host", help="Address to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port (default 8080; 0 = any free).")] = None,
    connection_file: Annotated[
        Path | None,
        typer.Option("--connection", help="A Ditto Kafka connection (JSON) to run, as Ditto's connectivity."),
    ] = None,
    kafka: Annotated[
        str | None, typer.Option("--kafka", help="Kafka for --connection (default $CENTINELA_KAFKA).")
    ] = None,
) -> None:
    """Serve Ditto's HTTP API v2, WebSocket /ws/2 and SSE over the embedded store."""
    overrides: dict[str, object] = {}
    if db is not None:
        overrides["db"] = str(db)
    if host is not None:
        overrides["host"] = host
    if port is not None:
        overrides["port"] = port
    connection: Connection | None = None
    kafka_url = kafka or os.environ.get("CENTINELA_KAFKA", "")
    try:
        settings = TwinServiceSettings(**overrides)  # type: ignore[arg-type]
        settings.check()
        if connection_file is not None:
            from centinela.twin.connectivity import load_connection  # only when a connection is asked for

            connection = load_connection(connection_file)
            if not kafka_url:
                msg = "--connection needs a Kafka broker: --kafka kafka://host:port, or CENTINELA_KAFKA."
                raise ConfigError(msg)
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        typer.echo(f"error: The CENTINELA_TWIN_* settings are not valid: {problems}.", err=True)
        raise typer.Exit(2) from None
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        asyncio.run(_serve(settings, connection, kafka_url))
    except KeyboardInterrupt:
        pass
    except (ConfigError, BusError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def register(app: typer.Typer) -> None:
    app.add_typer(twin_app, name="twin")
