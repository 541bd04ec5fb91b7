"""The vectorized backtest of a SQLite history on several processes.

A second process scans the values while this one reads the keys (the file must not change meanwhile).
Things never interact in a backtest, so they are then split into ranges of about equal size; each range
is replayed by its own process (forked: the rules and columns need no pickling) and the results are
merged in the engine's order (instant, then thing). Small histories, or a platform that cannot fork
safely, are replayed in this process.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import sqlite3
import sys
import threading
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from centinela.dsl.checked import CheckedProgram
from centinela.dsl.gcpause import gc_paused
from centinela.dsl.program import Program
from centinela.rules.vector import VectorResult, replay
from centinela.rules.vector_data import History
from centinela.rules.vector_expr import NotVectorizable
from centinela.rules.vector_sqlite import SCAN, assemble, load_sqlite, read_keys

__all__ = ["MIN_PARALLEL_ROWS", "replay_sqlite", "thing_ranges"]

log = logging.getLogger(__name__)
MIN_PARALLEL_ROWS = 200_000
"""Below this many readings one process is faster than starting another."""


def thing_ranges(counts: list[tuple[str, int]], parts: int) -> list[tuple[str, str]]:
    """Split things (in id order, with their reading counts) into at most `parts` contiguous ranges."""
    total = sum(n for _, n in counts)
    ranges: list[tuple[str, str]] = []
    first, seen = 0, 0
    for i, (_, n) in enumerate(counts):
        seen += n
        if len(ranges) < parts - 1 and seen >= total * (len(ranges) + 1) / parts and i + 1 < len(counts):
            ranges.append((counts[first][0], counts[i][0]))
            first = i + 1
    if counts:
        ranges.append((counts[first][0], counts[-1][0]))
    return ranges


def _can_fork() -> bool:
    if sys.platform != "linux" or "fork" not in mp.get_all_start_methods():
        return False
    return sys.version_info < (3, 12) or threading.active_count() == 1


def _scan_child(send: Connection, path: str, start: float, end: float) -> None:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = conn.execute(SCAN, (start, end)).fetchall()
        finally:
            conn.close()
        result: Any = ("ok", np.array(rows, dtype=np.float64).reshape(-1, 2))
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which decides
        result = ("error", f"{type(exc).__name__}: {exc}")
    send.send(result)
    send.close()


def _replay_child(
    send: Connection, program: Program, checked: CheckedProgram, history: History, start: float, end: float
) -> None:
    try:
        result: Any = ("ok", replay(program, checked, history, start, end))
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

    In parallel, one process scans the values while this one reads the keys; then the things are
    split into ranges of about equal size, each replayed by its own process.
    """
    workers = min(workers, os.cpu_count() or 1)
    # Columns, alarm statuses and events form no reference cycles: the collector would only rescan.
    with gc_paused():
        history = None
        if workers > 1 and _can_fork() and _rows_at_most(path) >= min_rows:
            try:
                history = _load_two(path, start, end)
            except (OSError, EOFError, NotVectorizable) as exc:
                log.info("Reading on two processes failed (%s); reading in one.", exc)
        if history is None:
            history = load_sqlite(path, start, end)
        elif len(history.things) > 1:
            try:
                return _replay_parts(program, checked, history, start, end, workers)
            except (OSError, EOFError) as exc:
                log.info("The parallel replay failed (%s); replaying in one process.", exc)
        return replay(program, checked, history, start, end)


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


def _load_two(path: str, start: float, end: float) -> History:
    """`load_sqlite` with the value scan in a second process; refused if the file changed meanwhile."""
    ctx = mp.get_context("fork")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_scan_child, args=(send, path, start, end), daemon=True)
    try:
        version = conn.execute("PRAGMA data_version").fetchone()[0]
        proc.start()
        send.close()
        conn.execute("BEGIN")
        keys, rowids, other = read_keys(conn, lambda q: q, (start, end))
        conn.execute("COMMIT")
        status, scan = recv.recv()
        if status != "ok":
            raise NotVectorizable(str(scan))
        if conn.execute("PRAGMA data_version").fetchone()[0] != version:
            msg = "The history changed while it was read."
            raise NotVectorizable(msg)
    except sqlite3.Error as exc:
        msg = f"The history file {path!r} cannot be read as columns: {exc}."
        raise NotVectorizable(msg) from exc
    finally:
        conn.close()
        _reap(proc, recv)
    return assemble(keys, rowids, scan, other)


def _replay_parts(
    program: Program, checked: CheckedProgram, history: History, start: float, end: float, parts: int
) -> VectorResult:
    per_thing = np.bincount(history.thing, minlength=len(history.things))
    counts = [(str(i), int(n)) for i, n in enumerate(per_thing)]
    bounds = [(int(a), int(b) + 1) for a, b in thing_ranges(counts, parts)]
    ctx = mp.get_context("fork")
    children = []
    try:
        for first, stop in bounds[1:]:
            recv, send = ctx.Pipe(duplex=False)
            part = history.slice_things(first, stop)
            proc = ctx.Process(target=_replay_child, args=(send, program, checked, part, start, end))
            proc.daemon = True
            proc.start()
            send.close()
            children.append((proc, recv))
        first, stop = bounds[0]
        results = [replay(program, checked, history.slice_things(first, stop), start, end)]
        for _, recv in children:
            status, payload = recv.recv()
            if status != "ok":
                raise NotVectorizable(str(payload))
            results.append(payload)
    finally:
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
