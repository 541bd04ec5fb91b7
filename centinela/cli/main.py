"""The `centinela` command: a typer app; each area adds its commands from its own module."""

from __future__ import annotations

import importlib

import typer

from centinela import __version__

__all__ = ["app"]

app = typer.Typer(
    name="centinela",
    help="Centinela: rules, alarms and digital twins for industrial telemetry.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Each module named here defines `register(app)` and adds its commands to the app.
COMMAND_MODULES: tuple[str, ...] = ("adapters", "check", "engine", "twin")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"centinela {__version__}")
        raise typer.Exit


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Centinela: rules, alarms and digital twins for industrial telemetry."""


for _name in COMMAND_MODULES:
    importlib.import_module(f"centinela.cli.{_name}").register(app)
