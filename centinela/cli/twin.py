"""`centinela twin serve`: run the embedded Ditto-compatible twin service on its own."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from centinela.errors import ConfigError
from centinela.twin.http import TwinServer, TwinServiceSettings
from centinela.twin.store import EmbeddedTwinStore

__all__ = ["register", "serve"]

twin_app = typer.Typer(help="The embedded Ditto-compatible twin service.", no_args_is_help=True)


async def _serve(settings: TwinServiceSettings) -> None:
    async with EmbeddedTwinStore.from_url(settings.db) as store:
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
) -> None:
    """Serve Ditto's HTTP API v2, WebSocket /ws/2 and SSE over the embedded store."""
    overrides: dict[str, object] = {}
    if db is not None:
        overrides["db"] = str(db)
    if host is not None:
        overrides["host"] = host
    if port is not None:
        overrides["port"] = port
    try:
        settings = TwinServiceSettings(**overrides)  # type: ignore[arg-type]
        settings.check()
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        typer.echo(f"error: The CENTINELA_TWIN_* settings are not valid: {problems}.", err=True)
        raise typer.Exit(2) from None
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        asyncio.run(_serve(settings))
    except KeyboardInterrupt:
        pass
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def register(app: typer.Typer) -> None:
    app.add_typer(twin_app, name="twin")
