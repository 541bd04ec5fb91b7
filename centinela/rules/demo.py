"""`centinela demo`: the embedded stack, a simulated well pad at 1 Hz and the example rules, live."""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from centinela.adapters.wellpad import WellPad
from centinela.rules.loading import load_program
from centinela.rules.output import AlarmEvent, StepOutput
from centinela.rules.runtime import SOURCE_TIME_HEADER
from centinela.rules.stack import EngineConfig, embedded_stack

__all__ = ["DemoSummary", "ScaledClock", "run_demo"]


class ScaledClock:
    """Wall-clock time running `speed` times faster from the moment it is made (1.0 = real time)."""

    def __init__(self, speed: float = 1.0) -> None:
        self.speed = speed
        self._wall0 = time.time()
        self._mono0 = time.monotonic()

    def now(self) -> float:
        return self._wall0 + (time.monotonic() - self._mono0) * self.speed

    async def sleep_until(self, when: float) -> None:
        delay = (when - self.now()) / self.speed
        if delay > 0:
            await asyncio.sleep(delay)


@dataclass(slots=True)
class DemoSummary:
    url: str = ""
    readings: int = 0
    alarms: list[AlarmEvent] = field(default_factory=list)
    computed: dict[str, dict[str, Any]] = field(default_factory=dict)


def _describe(event: AlarmEvent, start: float) -> str:
    return (
        f"[t+{event.time - start:6.1f}s] {event.severity.upper():8} {event.rule} on {event.thing_id}: "
        f"{event.previous} -> {event.state} ({event.cause}) — {event.message}"
    )


def _flatten(prefix: str, value: Any, into: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for key, sub in value.items():
            _flatten(f"{prefix}/{key}", sub, into)
    else:
        into[prefix] = value


async def run_demo(
    paths: Sequence[Path],
    *,
    duration: float = 120.0,
    speed: float = 1.0,
    seed: int = 0,
    port: int = 0,
    echo: Callable[[str], None] = print,
) -> DemoSummary:
    """Run the demo for `duration` simulated seconds; return what happened."""
    program = load_program(paths)
    clock = ScaledClock(speed)
    summary = DemoSummary()
    start = clock.now()

    def show(out: StepOutput) -> None:
        for event in out.alarms:
            summary.alarms.append(event)
            echo(_describe(event, start))
        for thing_id, patch in out.patches.items():
            flat: dict[str, Any] = {}
            _flatten("", {k: v for k, v in patch.get("features", {}).items() if k != "alarms"}, flat)
            summary.computed.setdefault(thing_id, {}).update(flat)

    with tempfile.TemporaryDirectory(prefix="centinela-demo-") as tmp:
        config = EngineConfig(
            history=f"sqlite:///{Path(tmp) / 'history.db'}", state=None, twins=None, port=port
        )
        async with embedded_stack(program, config, clock=clock, on_output=show) as stack:
            summary.url = stack.url
            echo(f"Twin API: {stack.url}/api/2/things  (HTTP basic user 'ditto', password 'ditto')")
            echo(f"WebSocket: {stack.url.replace('http', 'ws', 1)}/ws/2   history: {tmp}/history.db")
            echo(f"Rules: {', '.join(program.classes)} from {', '.join(program.files)}")
            pad = WellPad(seed)
            for thing_id, doc in WellPad.things().items():
                await stack.store.modify(thing_id, "/", {"thingId": thing_id, **doc})
            await _simulate(stack.store, pad, clock, start, duration, summary, echo)
            await stack.runtime.checkpoint()
    return summary


async def _simulate(
    store: Any,
    pad: WellPad,
    clock: ScaledClock,
    start: float,
    duration: float,
    summary: DemoSummary,
    echo: Callable[[str], None],
) -> None:
    elapsed = 0.0
    while elapsed <= duration:
        await clock.sleep_until(start + elapsed)
        per_thing: dict[str, dict[str, Any]] = {}
        for key, value in pad.sample(elapsed).items():
            thing_id, feature, prop = key.split("/")
            features = per_thing.setdefault(thing_id, {})
            features.setdefault(feature, {"properties": {}})["properties"][prop] = round(value, 3)
            summary.readings += 1
        stamp = str(int(round((start + elapsed) * 1000)))
        for thing_id, features in per_thing.items():
            await store.merge(thing_id, "/features", features, headers={SOURCE_TIME_HEADER: stamp})
        if elapsed and elapsed % 10 == 0:
            for thing_id, values in sorted(summary.computed.items()):
                shown = ", ".join(
                    f"{k.strip('/').replace('/properties/', '.')}={_num(v)}"
                    for k, v in sorted(values.items())
                )
                echo(f"[t+{elapsed:6.1f}s] {thing_id}: {shown}")
        elapsed += 1.0


def _num(value: Any) -> str:
    return f"{value:.1f}" if isinstance(value, float) else str(value)
