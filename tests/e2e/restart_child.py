"""A streaming engine process for the restart test: replays merges from a JSON-lines file with checkpoints.

Usage: restart_child.py RULES MERGES STATE_DB HISTORY_DB. Prints the index of each merge once its step
is done; checkpoints (history flushed, then state with the cursor) every 37 merges.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from centinela.adapters.wellpad import WellPad
from centinela.dsl import compile_paths
from centinela.infra.sqlite_history import SqliteHistoryStore
from centinela.infra.sqlite_state import SqliteStateStore
from centinela.rules.engine import Engine
from centinela.rules.output import StepOutput
from centinela.rules.sinks import HistorySink
from centinela.rules.snapshot import load_snapshot, save_snapshot

START = 1_800_000_000.0


async def main(rules: str, merges_path: str, state_url: str, history_url: str) -> None:
    engine = Engine(compile_paths([Path(rules)]))
    state = SqliteStateStore(state_url)
    history = SqliteHistoryStore(history_url, batch_rows=500)
    sink = HistorySink(history)
    cursor = await load_snapshot(engine, state) or 0
    print(f"resume {cursor}", flush=True)
    out = StepOutput()
    for thing_id, doc in WellPad.things().items():
        if thing_id not in engine.contexts:
            engine.bind({"thingId": thing_id, **doc}, START, out)
    merges = [json.loads(line) for line in Path(merges_path).read_text().splitlines()]
    for index in range(cursor, len(merges)):
        merge = merges[index]
        engine.advance(merge["time"], out)
        engine.ingest_change(merge["thing"], "/features", merge["features"], merge["time"], out)
        await sink.emit(out)
        out.clear()
        if (index + 1) % 37 == 0:
            await history.flush()
            await save_snapshot(engine, state, cursor=index + 1)
        print(index, flush=True)
    engine.advance(merges[-1]["time"] + 600.0, out)
    await sink.emit(out)
    await history.flush()
    await save_snapshot(engine, state, cursor=len(merges))
    await history.aclose()
    await state.aclose()
    print("done", flush=True)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
