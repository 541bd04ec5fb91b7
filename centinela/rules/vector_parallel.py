"""The vectorized backtest of a SQLite history on several processes.

Things never interact in a backtest, so the history is split into ranges of thing ids of about equal
size; each range is read and replayed by its own process (forked: the rules need no pickling) and the
results are merged in the engine's order (instant, then thing). Small histories, or a platform that
cannot fork safely, are replayed in this process.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import sys
import threading
from multiprocessing.connection import Connection
from typing import Any

from centinela.dsl.checked import CheckedProgram
from centinela.dsl.gcpause import gc_paused
from centinela.dsl.program import Program
from centinela.rules.vector import VectorResult, replay
from centinela.rules.vector_expr import NotVectorizable
from centinela.rules.vector_sqlite import key_counts, load_sqlite

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


def _child(
    send: Connection, program: Program, checked: CheckedProgram, path: str, start: float, end: float,
    things: tuple[str, str],
) -> None:  # fmt: skip
    try:
        result: Any = ("ok", replay(program, checked, load_sqlite(path, start, end, things), start, end))
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
    """`replay` of a SQLite history, on `workers` processes when it has `min_rows` readings or more."""
    workers = min(workers, os.cpu_count() or 1)
    # Columns, alarm statuses and events form no reference cycles: the collector would only rescan.
    with gc_paused():
        if workers > 1 and _can_fork():
            counts = key_counts(path, start, end)
            if sum(n for _, n in counts) >= min_rows and len(counts) > 1:
                try:
                    return _parallel(program, checked, path, start, end, thing_ranges(counts, workers))
                except (OSError, EOFError) as exc:
                    log.info("The parallel replay failed (%s); replaying in one process.", exc)
        return replay(program, checked, load_sqlite(path, start, end), start, end)


def _parallel(
    program: Program,
    checked: CheckedProgram,
    path: str,
    start: float,
    end: float,
    ranges: list[tuple[str, str]],
) -> VectorResult:
    ctx = mp.get_context("fork")
    children = []
    try:
        for things in ranges[1:]:
            recv, send = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=_child, args=(send, program, checked, path, start, end, things))
            proc.daemon = True
            proc.start()
            send.close()
            children.append((proc, recv))
        parts = [replay(program, checked, load_sqlite(path, start, end, ranges[0]), start, end)]
        for _, recv in children:
            status, payload = recv.recv()
            if status != "ok":
                raise NotVectorizable(str(payload))
            parts.append(payload)
    finally:
        for proc, recv in children:
            recv.close()
            proc.join(timeout=5.0)
            if proc.is_alive():
                proc.kill()
                proc.join()
    return VectorResult.merge(parts)
