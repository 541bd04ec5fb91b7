"""Engine commands: `run`, `serve`, `test`, `backtest` and `demo`."""

from __future__ import annotations

import asyncio
import json
import signal
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from centinela.errors import CentinelaError, ConfigError, RulesError
from centinela.rules.loading import format_rules_error, load_program

__all__ = ["register"]


def _fail(exc: CentinelaError) -> typer.Exit:
    text = format_rules_error(exc) if isinstance(exc, RulesError) else str(exc)
    typer.echo(text, err=True)
    return typer.Exit(code=2)


def parse_time(text: str) -> float:
    """Epoch seconds, or an ISO 8601 date-time (UTC unless it says otherwise)."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        msg = f"The time {text!r} is neither epoch seconds nor an ISO 8601 date-time."
        raise ConfigError(msg) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def test_command(
    paths: Annotated[list[Path], typer.Argument(help="Rule files or directories holding `test` blocks.")],
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Print every test's alarm timeline.")
    ] = False,
) -> None:
    """Run the `test` blocks of rule files on virtual time; exit 1 when one fails."""
    from centinela.rules.testing import run_tests

    try:
        program = load_program(paths)
    except CentinelaError as exc:
        raise _fail(exc) from exc
    results = run_tests(program)
    failed = [r for r in results if not r.passed]
    for result in results:
        typer.echo(f"{'ok  ' if result.passed else 'FAIL'} {result.name} ({result.where})")
        if not result.passed or verbose:
            if result.error:
                typer.echo(f"  error: {result.error}")
            diff = result.diff()
            if diff:
                typer.echo("\n".join(f"  {line}" for line in diff.splitlines()))
            typer.echo("  timeline:" if result.timeline else "  timeline: (no alarm transitions)")
            for line in result.timeline:
                typer.echo(f"  {line}")
    if not results:
        typer.echo("No test blocks were found in " + ", ".join(str(p) for p in paths) + ".", err=True)
    typer.echo(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    if failed or not results:
        raise typer.Exit(code=1)


def backtest_command(
    rules: Annotated[list[Path], typer.Argument(help="Rule files or directories.")],
    history: Annotated[str, typer.Option("--history", help="History store URL: sqlite:///history.db or postgresql://…")],
    start: Annotated[str, typer.Option("--from", help="Start: epoch seconds or ISO 8601 (UTC).")],
    end: Annotated[str, typer.Option("--to", help="End: epoch seconds or ISO 8601 (UTC).")],
    output: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
    vector: Annotated[
        bool,
        typer.Option(
            "--vector/--no-vector",
            help="Use the vectorized replay of SQLite history when the rules allow it (same results).",
        ),
    ] = True,
    workers: Annotated[
        int, typer.Option("--workers", min=1, help="Processes for a vectorized replay of a large history.")
    ] = 1,
) -> None:
    """Replay stored history through the rules; print the alarm timeline and per-rule counts."""
    from centinela.config import open_history_store
    from centinela.infra.sqlite_db import sqlite_path
    from centinela.rules.backtest import backtest, backtest_sqlite

    async def go() -> dict[str, object]:
        t0, t1 = parse_time(start), parse_time(end)
        program = load_program(rules)
        if history.startswith("sqlite:///"):
            # SQLite history is read in large chunks straight from its file: the fast path.
            path = sqlite_path(history)
            report = await backtest_sqlite(program, path, t0, t1, vector=vector, workers=workers)
            return report.to_json()
        store = await open_history_store(history)
        try:
            report = await backtest(program, store.replay(t0, t1), t0, t1)
        finally:
            await store.aclose()
        return report.to_json()

    try:
        report = asyncio.run(go())
    except CentinelaError as exc:
        raise _fail(exc) from exc
    if output == "json":
        typer.echo(json.dumps(report, sort_keys=True))
        return
    typer.echo(f"{report['readings']} readings replayed from {report['from']} to {report['to']}")
    for t in report["transitions"]:  # type: ignore[attr-defined]
        typer.echo(
            f"{t['time']:.3f} {t['thingId']} {t['rule']} {t['previous']} -> {t['state']} ({t['cause']})"
        )
    typer.echo(f"{'rule':30} {'alarms':>7} {'per hour':>9} {'chatter':>8} {'longest standing (s)':>22}")
    for s in report["rules"]:  # type: ignore[attr-defined]
        typer.echo(
            f"{s['rule']:30} {s['alarms']:>7} {s['alarmsPerHour']:>9.2f} {s['chattering']:>8} "
            f"{s['longestStanding']:>22.1f}"
        )


def run_command(
    rules: Annotated[list[Path], typer.Argument(help="Rule files or directories.")],
    twin: Annotated[
        str, typer.Option("--twin", help="embedded, sqlite:///twins.db or ditto+http://…")
    ] = "embedded",
    watch: Annotated[bool, typer.Option("--watch", help="Reload rule files when they change.")] = False,
    history: Annotated[
        str, typer.Option("--history", help="History store URL.")
    ] = "sqlite:///.centinela/history.db",
    state: Annotated[str, typer.Option("--state", help="State store URL.")] = "sqlite:///.centinela/state.db",
    source: Annotated[
        str | None, typer.Option("--source", help="Consume Ditto twin events: kafka://host:port/twin.events.")
    ] = None,
    group: Annotated[str, typer.Option("--group", help="Kafka consumer group of the workers.")] = "rules",
    commands: Annotated[
        str, typer.Option("--commands", help="Topic for the engine's merge commands ('' for none).")
    ] = "twin.commands",
    alarms_prefix: Annotated[
        str, typer.Option("--alarms-prefix", help="Prefix of the alarms.critical and alarms.warnings topics.")
    ] = "",
) -> None:
    """Run the engine against a twin store (or, with --source, as a Kafka worker) until interrupted."""
    from centinela.rules.launch import run_engine

    if source is not None:
        from centinela.rules.kafka_source import run_worker

        worker = run_worker(rules, source, group=group, state_url=state, history_url=history or None,
                            commands=commands or None, echo=typer.echo, alarms_prefix=alarms_prefix)
        try:
            asyncio.run(_until_signal(worker))
        except CentinelaError as exc:
            raise _fail(exc) from exc
        return
    try:
        asyncio.run(_until_signal(run_engine(rules, twin, history, state, watch=watch, echo=typer.echo)))
    except CentinelaError as exc:
        raise _fail(exc) from exc


def serve_command(
    config: Annotated[Path | None, typer.Option("--config", help="YAML file (see docs/engine.md).")] = None,
) -> None:
    """Embedded twin service + engine + SQLite history in one process, until interrupted."""
    from centinela.rules.launch import serve

    try:
        asyncio.run(_until_signal(serve(config, echo=typer.echo)))
    except CentinelaError as exc:
        raise _fail(exc) from exc


def demo_command(
    duration: Annotated[float, typer.Option("--duration", help="Simulated seconds to run.")] = 120.0,
    speed: Annotated[float, typer.Option("--speed", help="Run the simulation this many times faster.")] = 1.0,
    rules: Annotated[list[Path] | None, typer.Option("--rules", help="Rule files or directories.")] = None,
    port: Annotated[int, typer.Option("--port", help="Port of the twin API (0 picks a free one).")] = 0,
) -> None:
    """The embedded well-pad demo: twin service, simulated wells and rig, example rules, live alarms."""
    from centinela.rules.demo import run_demo

    rules = rules or [Path("examples")]
    try:
        summary = asyncio.run(run_demo(rules, duration=duration, speed=speed, port=port, echo=typer.echo))
    except CentinelaError as exc:
        raise _fail(exc) from exc
    typer.echo(f"{summary.readings} readings, {len(summary.alarms)} alarm transitions.")


async def _until_signal(coro: object) -> None:
    task = asyncio.ensure_future(coro)  # type: ignore[call-overload]
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    try:
        await task
    except asyncio.CancelledError:
        pass


def register(app: typer.Typer) -> None:
    app.command("test")(test_command)
    app.command("backtest")(backtest_command)
    app.command("run")(run_command)
    app.command("serve")(serve_command)
    app.command("demo")(demo_command)
