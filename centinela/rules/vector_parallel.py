"""The vectorized backtest of a SQLite history on several processes.

Things never interact in a backtest, so they are split into ranges of thing ids holding about as many
readings each (estimated from a sample of rows). Each range is read and replayed by its own process:
this one takes the first, forked processes the others (the rules need no pickling and no column
crosses a pipe; each reads its rows with a filter on thing_id inside SQLite's scan). The results are
merged in the engine's order (instant, then thing). The replay is refused if the file changed while it
was read (`PRAGMA data_version`). Small histories, or a platform that cannot fork safely, are replayed
in this process.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import sqlite3
import sys
import threading
from collections import Counter
from multiprocessing.connection import Connection
from typing import Any

from centinela.dsl.checked import CheckedProgram
from centinela.dsl.gcpause import gc_paused
from centinela.dsl.program import Program
from centinela.rules.vector import VectorResult, replay
from centinela.rules.vector_expr import NotVectorizable
from centinela.rules.vector_sqlite import load_sqlite

__all__ = ["MIN_PARALLEL_ROWS", "replay_sqlite", "split_things", "thing_ranges"]

log = logging.getLogger(__name__)
MIN_PARALLEL_ROWS = 200_000
"""Below this many readings one process is faster than starting another."""
LEAD_SHARE = 1.1
"""This process's range, relative to each forked one's: they also pickle their results, and the merge
waits for the last of them (measured: 1.05-1.2 end together on the bench workload)."""
SAMPLE_ROWS = 2048
"""Rows sampled (evenly by rowid) to split the things into ranges of about equal size."""


def thing_ranges(counts: list[tuple[str, int]], parts: int, lead: float = 1.0) -> list[tuple[str, str]]:
    """Split things (in id order, with their reading counts) into at most `parts` contiguous ranges.

    The first range gets `lead` times the readings of each other one.
    """
    total = sum(n for _, n in counts)
    ranges: list[tuple[str, str]] = []
    first, seen = 0, 0
    weight = lead + parts - 1
    for i, (_, n) in enumerate(counts):
        seen += n
        due = total * (lead + len(ranges)) / weight
        if len(ranges) < parts - 1 and seen >= due and i + 1 < len(counts):
            ranges.append((counts[first][0], counts[i][0]))
            first = i + 1
    if counts:
        ranges.append((counts[first][0], counts[-1][0]))
    return ranges


def split_things(
    conn: sqlite3.Connection, start: float, end: float, parts: int, lead: float = 1.0
) -> list[tuple[str, str]]:
    """Ranges (first, last) of thing ids covering every thing of [start, end), about equal in readings.

    The sizes come from rows sampled evenly by rowid (a look-up each); when too few of them fall in
    [start, end), from the exact counts of the primary-key index.
    """
    low = conn.execute("SELECT min(rowid) FROM telemetry").fetchone()[0]  # one min/max per query: read
    high = conn.execute("SELECT max(rowid) FROM telemetry").fetchone()[0]  # off the b-tree's ends
    if low is None or high is None:
        return []
    step = max(1, (int(high) - int(low) + 1) // SAMPLE_ROWS)
    inline = ",".join(str(r) for r in range(int(low), int(high) + 1, step))  # integers, not input
    sample = conn.execute(
        f"SELECT thing_id FROM telemetry NOT INDEXED WHERE rowid IN ({inline}) AND time >= ? AND time < ?",  # noqa: S608
        (start, end),
    ).fetchall()
    if len(sample) >= SAMPLE_ROWS // 16:
        counts = sorted(Counter(str(r[0]) for r in sample).items())
    else:
        counts = _counts(conn, start, end)
    ranges = thing_ranges(counts, parts, lead)
    if not ranges:
        return []
    # Widen the ranges so that they meet and cover every thing: the first from the smallest id, each
    # next one from the id after the previous range, the last to the largest id.
    first_id = conn.execute("SELECT min(thing_id) FROM telemetry").fetchone()[0]
    last_id = conn.execute("SELECT max(thing_id) FROM telemetry").fetchone()[0]
    if not isinstance(first_id, str) or not isinstance(last_id, str):
        return []  # ids that are not text (never written by Centinela) do not sort with the ranges
    out: list[tuple[str, str]] = []
    lower = first_id
    for i, (_, last) in enumerate(ranges):
        upper = last_id if i == len(ranges) - 1 else last
        out.append((lower, upper))
        after = conn.execute("SELECT min(thing_id) FROM telemetry WHERE thing_id > ?", (upper,)).fetchone()[0]
        if after is None:
            break
        lower = str(after)
    return out


def _counts(conn: sqlite3.Connection, start: float, end: float) -> list[tuple[str, int]]:
    query = (
        "SELECT thing_id, count(*) FROM telemetry INDEXED BY sqlite_autoindex_telemetry_1 "
        "WHERE time >= ? AND time < ? GROUP BY thing_id ORDER BY thing_id"
    )
    return [(str(t), int(n)) for t, n in conn.execute(query, (start, end)).fetchall()]


def _can_fork() -> bool:
    if sys.platform != "linux" or "fork" not in mp.get_all_start_methods():
        return False
    return sys.version_info < (3, 12) or threading.active_count() == 1


def _replay_range(
    program: Program, checked: CheckedProgram, path: str, start: float, end: float, things: tuple[str, str]
) -> VectorResult:
    return replay(program, checked, load_sqlite(path, start, end, things), start, end)


def _child(send: Connection, *args: Any) -> None:
    try:
        result: Any = ("ok", _replay_range(*args))
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which decides
        result = ("error", f"{type(exc).__name__}: {exc}")
    send.send(result)
    send.close()


def replay_sqlite(
    program: Program,
    checked: CheckedProgram,
    path: str,
    start: float,
    end: float,
    *,
    workers: int = 1,
    min_rows: int = MIN_PARALLEL_ROWS,
) -> VectorResult:
    """`replay` of a SQLite history, on `workers` processes when it has `min_rows` readings or more.

    The things are split into ranges of about equal size, each read and replayed by its own process.
    """
    workers = min(workers, os.cpu_count() or 1)
    # Columns, alarm statuses and events form no reference cycles: the collector would only rescan.
    with gc_paused():
        if workers > 1 and _can_fork() and _rows_at_most(path) >= min_rows:
            try:
                result = _replay_parts(program, checked, path, start, end, workers)
            except (OSError, EOFError, sqlite3.Error) as exc:
                log.info("The parallel replay failed (%s); replaying in one process.", exc)
            else:
                if result is not None:
                    return result
        return replay(program, checked, load_sqlite(path, start, end), start, end)


def _rows_at_most(path: str) -> int:
    """An upper bound of the readings of the history, at no cost: its largest rowid."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return int(conn.execute("SELECT max(rowid) FROM telemetry").fetchone()[0] or 0)
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


def _replay_parts(
    program: Program, checked: CheckedProgram, path: str, start: float, end: float, parts: int
) -> VectorResult | None:
    """The replay over thing ranges on `parts` processes; None when there is one range only."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    ctx = mp.get_context("fork")
    children = []
    try:
        version = conn.execute("PRAGMA data_version").fetchone()[0]
        conn.execute("BEGIN")
        ranges = split_things(conn, start, end, parts, LEAD_SHARE)
        conn.execute("COMMIT")
        if len(ranges) < 2:
            return None
        for things in ranges[1:]:
            recv, send = ctx.Pipe(duplex=False)
            args = (send, program, checked, path, start, end, things)
            proc = ctx.Process(target=_child, args=args, daemon=True)
            proc.start()
            send.close()
            children.append((proc, recv))
        results = [_replay_range(program, checked, path, start, end, ranges[0])]
        for _, recv in children:
            status, payload = recv.recv()
            if status != "ok":
                raise NotVectorizable(str(payload))
            results.append(payload)
        if conn.execute("PRAGMA data_version").fetchone()[0] != version:
            msg = "The history changed while it was read."
            raise NotVectorizable(msg)
    finally:
        conn.close()
        for proc, recv in children:
            _reap(proc, recv)
    return VectorResult.merge(results)


def _reap(proc: Any, recv: Connection) -> None:
    recv.close()
    if proc.pid is None:
        return
    proc.join(timeout=5.0)
    if proc.is_alive():
        proc.kill()
        proc.join()
