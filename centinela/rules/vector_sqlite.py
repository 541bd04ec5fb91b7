"""Reading a SQLite history into columns for the vectorized backtest, and finding the rules' IR.

The `telemetry` table's primary key (thing_id, path, time) is a covering index: the readings' order by
(thing, path, time) comes from it as rowids, and the times and values from one scan of the table in
rowid order. Rows that are not plain numbers (definitions, JSON values) are read apart.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from centinela.dsl.checked import CheckedProgram
from centinela.dsl.pipeline import check_paths
from centinela.dsl.program import Program
from centinela.errors import CentinelaError
from centinela.rules.vector_data import Floats, History, Ints
from centinela.rules.vector_expr import NotVectorizable

__all__ = ["SCAN", "assemble", "checked_for", "key_counts", "load_sqlite", "read_keys"]

_RANGE = "time >= ? AND time < ?"
_THINGS = " AND thing_id >= ? AND thing_id <= ?"
_PK = "telemetry INDEXED BY sqlite_autoindex_telemetry_1"  # the (thing_id, path, time) key: covering
_KEYS = (
    f"SELECT thing_id, path, count(*) FROM {_PK} WHERE time >= ? AND time < ? "  # noqa: S608 - constants
    "GROUP BY thing_id, path ORDER BY thing_id, path"
)
_ORDER = (  # every rowid, in (thing, path, time) order, as one text: no Python object per row
    "SELECT group_concat(rowid, ' ') FROM (SELECT rowid FROM "  # noqa: S608 - constants
    f"{_PK} WHERE time >= ? AND time < ? ORDER BY thing_id, path, time)"
)
_SCAN = (
    "SELECT time, ifnull(value, 0.0) FROM telemetry NOT INDEXED WHERE time >= ? AND time < ? ORDER BY rowid"
)
SCAN = _SCAN
_OTHER = (
    "SELECT time, thing_id, path, value, value_json FROM telemetry NOT INDEXED WHERE time >= ? AND time < ? "
    "AND (value_json IS NOT NULL OR value IS NULL)"  # text in the value column fails the scan instead
)


def load_sqlite(path: str, start: float, end: float, things: tuple[str, str] | None = None) -> History:
    """The readings of [start, end) of a Centinela SQLite history file, as columns.

    `things` = (first, last) keeps the things whose ids lie in that range (both included).
    """
    params: tuple[object, ...] = (start, end)
    if things is not None:
        params = (start, end, *things)

    def sql(query: str) -> str:
        return query if things is None else query.replace(_RANGE, _RANGE + _THINGS)

    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:  # pragma: no cover - connect itself rarely fails in read-only mode
        msg = f"The history file {path!r} cannot be opened: {exc}."
        raise CentinelaError(msg) from exc
    try:
        conn.execute("BEGIN")  # one snapshot for every query
        keys, rowids, other = read_keys(conn, sql, params)
        n = len(rowids)
        pairs = np.dtype((np.float64, 2))
        scan = np.asarray(np.fromiter(conn.execute(sql(_SCAN), params), dtype=pairs, count=n), np.float64)
    except (sqlite3.Error, ValueError, TypeError) as exc:
        msg = f"The history file {path!r} cannot be read as columns: {exc}."
        raise NotVectorizable(msg) from exc
    finally:
        conn.close()
    return assemble(keys, rowids, scan, other)


def read_keys(
    conn: sqlite3.Connection, sql: Callable[[str], str], params: tuple[object, ...]
) -> tuple[list[Any], Ints, tuple[Any, ...]]:
    """Readings per (thing, path), every rowid in (thing, path, time) order, and the non-numeric rows."""
    keys = conn.execute(sql(_KEYS), params).fetchall()
    text = conn.execute(sql(_ORDER), params).fetchone()[0] or ""
    rowids = np.fromstring(text, dtype=np.int64, sep=" ") if text else np.zeros(0, dtype=np.int64)
    other = tuple(conn.execute(sql(_OTHER), params).fetchall())
    if len(rowids) != sum(k[2] for k in keys):
        msg = "The history changed while it was read."
        raise NotVectorizable(msg)
    return keys, rowids, other


def assemble(keys: list[Any], rowids: Ints, scan: Floats, other: tuple[Any, ...]) -> History:
    """History columns from the key counts, the rowids in key order, the rowid-order scan and the rest."""
    if len(rowids) != len(scan):
        msg = "The history changed while it was read."
        raise NotVectorizable(msg)
    rank = np.empty(len(rowids), dtype=np.int64)
    rank[np.argsort(rowids, kind="stable")] = np.arange(len(rowids))
    time, value = scan[rank, 0], scan[rank, 1]
    ends = np.cumsum(counts := np.array([k[2] for k in keys], dtype=np.int64))
    inside = np.ones(len(time), dtype=bool)
    inside[ends[:-1]] = False  # the first reading of each (thing, path) starts a new key
    if len(time) and not np.all(np.diff(time)[inside[1:]] > 0):
        msg = "The readings of the history did not come in (thing, path, time) order."
        raise NotVectorizable(msg)
    things = tuple(sorted({k[0] for k in keys}))
    paths = tuple(sorted({k[1] for k in keys}))
    tcode = {t: i for i, t in enumerate(things)}
    pcode = {p: i for i, p in enumerate(paths)}
    thing = np.repeat(np.array([tcode[k[0]] for k in keys], dtype=np.int64), counts)
    where = np.repeat(np.array([pcode[k[1]] for k in keys], dtype=np.int64), counts)
    keep = np.ones(len(time), dtype=bool)
    if other:  # the readings that are not numbers leave the columns
        starts = ends - counts
        key_index = {(k[0], k[1]): i for i, k in enumerate(keys)}
        for t, th, p, _v, _j in other:
            i = key_index[(th, p)]
            a, b = int(starts[i]), int(starts[i] + counts[i])
            keep[a + int(np.searchsorted(time[a:b], t))] = False
    things_all = tuple(sorted(set(things) | {str(r[1]) for r in other}))
    if things_all != things:
        remap = np.array([things_all.index(t) for t in things], dtype=np.int64)
        thing = remap[thing]
    return History(things_all, paths, thing[keep], where[keep], time[keep], value[keep], other)


def key_counts(path: str, start: float, end: float) -> list[tuple[str, int]]:
    """Readings per thing in [start, end), in thing order (from the covering index)."""
    query = (
        "SELECT thing_id, count(*) FROM telemetry INDEXED BY sqlite_autoindex_telemetry_1 "
        "WHERE time >= ? AND time < ? GROUP BY thing_id ORDER BY thing_id"
    )
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return [(str(t), int(n)) for t, n in conn.execute(query, (start, end)).fetchall()]
        finally:
            conn.close()
    except sqlite3.Error as exc:
        msg = f"The history file {path!r} cannot be counted: {exc}."
        raise NotVectorizable(msg) from exc


def checked_for(program: Program) -> CheckedProgram | None:
    """The checked IR of a program compiled from files, re-read from them (None when they are gone)."""
    files = [Path(f) for f in program.files]
    if not files or not all(f.is_file() for f in files):
        return None
    try:
        result = check_paths(files)
    except (OSError, UnicodeDecodeError):
        return None
    return None if result.errors else result.checked
