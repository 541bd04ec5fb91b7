"""The fused timer functions: a window edge falling due re-runs its path's rules like the general code."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from centinela.dsl import compile_source
from centinela.rules.engine import Engine
from centinela.rules.output import StepOutput

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "property"))
from engine_support import engine_outcome  # noqa: E402 - the shared comparison of two engines

RULES = """\
twins Dev = things "dev:*"
alarm Dev Hi severity high when p.x > 80 clear when p.x < 75
alarm Dev AvgHi severity low when avg(p.x, 10s) > 78 clear when avg(p.x, 10s) < 76
compute Dev out.f = p.x * 2 + p.y
compute Dev out.avg = avg(p.x, 10s)
compute Dev out.top = max(p.y, 5s) ?? 0
"""
X, Y = "/features/p/properties/x", "/features/p/properties/y"


def _run(engine: Engine, stream: list[tuple[str, str, float, float]], tick_every: int) -> dict[str, Any]:
    out = StepOutput()
    for i in range(3):
        engine.bind({"thingId": f"dev:d{i}"}, 0.0, out)
    for n, (thing, path, t, value) in enumerate(stream):
        if tick_every and n % tick_every == 0:
            engine.advance(t - 0.5, out)  # timers fired on time, or by the next reading
        engine.ingest(thing, path, value, t, out)
    engine.advance(stream[-1][2] + 100.0, out)  # every window drains
    return engine_outcome(engine, out)


def _stream() -> list[tuple[str, str, float, float]]:
    stream = []
    t = 1.0
    for n in range(600):
        t += (0.3, 1.7, 4.0, 12.0)[n % 7 % 4]  # gaps shorter and longer than the windows
        value = 70.0 + (n * 37 % 19)  # crosses 75, 78 and 80 both ways
        stream.append((f"dev:d{n % 3}", X if n % 4 else Y, t, float(value)))
    return stream


def test_fused_timer_functions_give_what_the_general_code_gives() -> None:
    program = compile_source(RULES, "ticks.rules")
    stream = _stream()
    for tick_every in (0, 5):
        fused = _run(Engine(program), stream, tick_every)
        general = _run(Engine(program, fused=False), stream, tick_every)
        assert fused["alarms"], "the stream raises alarms"
        assert any(row[2] == "/features/out/properties/avg" for row in fused["rows"])
        assert fused == general


def test_a_window_edge_runs_the_fused_timer_function_of_its_path() -> None:
    program = compile_source(RULES, "ticks.rules")
    cls = program.classes["Dev"]
    for fused in (True, False):
        engine = Engine(program, fused=fused)
        out = StepOutput()
        engine.bind({"thingId": "dev:d0"}, 0.0, out)
        engine.ingest("dev:d0", X, 90.0, 1.0, out)
        engine.ingest("dev:d0", X, 91.0, 2.0, out)
        out.clear()
        engine.advance(11.5, out)  # the reading at 1.0 leaves the 10 s window at 11.0
        # the average moved at the edge's own time, whichever code ran it
        assert [(r[0], r[3]) for r in out.rows if r[2] == "/features/out/properties/avg"] == [(11.0, 91.0)]
        tick = engine._ticks["Dev"].get(X)
        assert (tick is cls.ticks[X]) if fused else (tick is False)
