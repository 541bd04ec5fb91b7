"""Reading a SQLite history into columns for the vectorized backtest, and finding the rules' IR.

The `telemetry` table's primary key (thing_id, path, time) is a covering index: the readings' order by
(thing, path, time) comes from it as rowids, and the times and values from one scan of the table in
rowid order. The scan marks the rows that are not plain numbers (definitions, JSON values, nulls) with
an infinite value; those few are read again by rowid and kept apart.
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
from centinela.rules.vector_data import Floats, History, Ints, Row
from centinela.rules.vector_expr import NotVectorizable

__all__ = ["SCAN", "assemble", "checked_for", "load_sqlite", "read_keys", "read_rows"]

_RANGE = "time >= ? AND time < ?"
_THINGS = "thing_id >= ? AND thing_id <= ?"
_PK = "telemetry INDEXED BY sqlite_autoindex_telemetry_1"  # the (thing_id, path, time) key: covering
_KEYS = (
    f"SELECT thing_id, path, count(*) FROM {_PK} WHERE time >= ? AND time < ? "  # noqa: S608 - constants
    "GROUP BY thing_id, path ORDER BY thing_id, path"
)
_ORDER = (  # every rowid, in (thing, path, time) order, as one text: no Python object per row
    "SELECT group_concat(rowid, ' ') FROM (SELECT rowid FROM "  # noqa: S608 - constants
    f"{_PK} WHERE time >= ? AND time < ? ORDER BY thing_id, path, time)"
)
_SCAN = (  # text in the value column fails the scan; JSON values and nulls come as +inf (9e999)
    "SELECT time, ifnull(iif(value_json IS NULL, value, NULL), 9e999) FROM telemetry NOT INDEXED "
    "WHERE time >= ? AND time < ? ORDER BY rowid"
)
SCAN = _SCAN
_BY_ROWID = (
    "SELECT rowid, time, thing_id, path, value, value_json FROM telemetry WHERE rowid IN ({}) ORDER BY rowid"
)
_CHUNK = 10_000  # rowids per look-up statement
_MMAP_BYTES = 1 << 40


def load_sqlite(path: str, start: float, end: float, things: tuple[str, str] | None = None) -> History:
    """The readings of [start, end) of a Centinela SQLite history file, as columns.

    `things` = (first, last) keeps the things whose ids lie in that range (both included).
    """
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:  # pragma: no cover - connect itself rarely fails in read-only mode
        msg = f"The history file {path!r} cannot be opened: {exc}."
        raise CentinelaError(msg) from exc
    try:
        # Pages read through a memory map: no read() call and copy per page (SQLite caps the size).
        conn.execute(f"PRAGMA mmap_size = {_MMAP_BYTES}")
        conn.execute("BEGIN")  # one snapshot for every query
        sql, params = _filter(conn, start, end, things)
        keys, rowids = read_keys(conn, sql, params)
        n = len(rowids)
        pairs = np.dtype((np.float64, 2))
        scan = np.asarray(np.fromiter(conn.execute(sql(_SCAN), params), dtype=pairs, count=n), np.float64)
        return assemble(keys, rowids, scan, lambda ids: read_rows(conn, ids))
    except (sqlite3.Error, ValueError, TypeError) as exc:
        msg = f"The history file {path!r} cannot be read as columns: {exc}."
        raise NotVectorizable(msg) from exc
    finally:
        conn.close()


def _filter(
    conn: sqlite3.Connection, start: float, end: float, things: tuple[str, str] | None
) -> tuple[Callable[[str], str], tuple[object, ...]]:
    """The queries' WHERE clause and parameters: no time test when [start, end) holds every row."""
    first = conn.execute("SELECT min(time) FROM telemetry").fetchone()[0]  # each off the time index
    last = conn.execute("SELECT max(time) FROM telemetry").fetchone()[0]
    every = first is not None and start <= first and last < end
    clause = "" if every else _RANGE
    params: tuple[object, ...] = () if every else (start, end)
    if things is not None:
        clause = f"{clause} AND {_THINGS}" if clause else _THINGS
        params = (*params, *things)
    where = f" WHERE {clause}" if clause else ""

    def sql(query: str) -> str:
        return query.replace(f" WHERE {_RANGE}", where)

    return sql, params


def read_keys(
    conn: sqlite3.Connection, sql: Callable[[str], str], params: tuple[object, ...]
) -> tuple[list[Any], Ints]:
    """Readings per (thing, path) and every rowid in (thing, path, time) order."""
    keys = conn.execute(sql(_KEYS), params).fetchall()
    text = conn.execute(sql(_ORDER), params).fetchone()[0] or ""
    rowids = np.fromstring(text, dtype=np.int64, sep=" ") if text else np.zeros(0, dtype=np.int64)
    if len(rowids) != sum(k[2] for k in keys):
        msg = "The history changed while it was read."
        raise NotVectorizable(msg)
    return keys, rowids


def read_rows(conn: sqlite3.Connection, rowids: Ints) -> list[Any]:
    """The whole rows `(rowid, *Row)` of these rowids (few: the marked ones), in rowid order."""
    rows: list[Any] = []
    ids = np.sort(rowids).tolist()
    for i in range(0, len(ids), _CHUNK):
        inline = ",".join(str(int(r)) for r in ids[i : i + _CHUNK])  # integers from the index
        rows.extend(conn.execute(_BY_ROWID.format(inline)).fetchall())
    if len(rows) != len(ids):
        msg = "The history changed while it was read."
        raise NotVectorizable(msg)
    return rows


def assemble(keys: list[Any], rowids: Ints, scan: Floats, fetch: Callable[[Ints], list[Any]]) -> History:
    """History columns from the key counts, the rowids in key order and the rowid-order scan.

    The marked rows (+inf) are fetched whole by rowid with `fetch`: a real +inf reading stays a number,
    the JSON values and nulls leave the columns for `History.other`.
    """
    if len(rowids) != len(scan):
        msg = "The history changed while it was read."
        raise NotVectorizable(msg)
    first = int(rowids.min(initial=0))
    if len(rowids) and int(rowids.max()) - first + 1 == len(rowids):
        rank = rowids - first  # the rowids are one run (unique, none missing): no sort
    else:
        rank = np.empty(len(rowids), dtype=np.int64)
        rank[np.argsort(rowids)] = np.arange(len(rowids))
    time, value = scan[rank, 0], scan[rank, 1]
    times, time_rank = _scan_ranks(scan[:, 0], rank)
    ends = np.cumsum(counts := np.array([k[2] for k in keys], dtype=np.int64))
    inside = np.ones(len(time), dtype=bool)
    inside[ends[:-1]] = False  # the first reading of each (thing, path) starts a new key
    if len(time) and not np.all((time[1:] > time[:-1]) | ~inside[1:]):
        msg = "The readings of the history did not come in (thing, path, time) order."
        raise NotVectorizable(msg)
    things = tuple(sorted({k[0] for k in keys}))
    paths = tuple(sorted({k[1] for k in keys}))
    tcode = {t: i for i, t in enumerate(things)}
    pcode = {p: i for i, p in enumerate(paths)}
    thing = np.repeat(np.array([tcode[k[0]] for k in keys], dtype=np.int64), counts)
    where = np.repeat(np.array([pcode[k[1]] for k in keys], dtype=np.int64), counts)
    keep = np.ones(len(time), dtype=bool)
    marked = np.flatnonzero(value == np.inf)
    other: tuple[Row, ...] = ()
    if len(marked):
        marked = marked[np.argsort(rowids[marked])]  # the rows apart keep the table's (rowid) order
        rows = fetch(rowids[marked])
        others = []
        for i, (_rowid, t, thing_id, path, v, v_json) in zip(marked.tolist(), rows, strict=True):
            if v_json is None and v.__class__ is float:
                continue  # a number after all: +inf itself
            keep[i] = False
            others.append((float(t), thing_id, path, v, v_json))
        other = tuple(others)
    if keep.all():  # nothing apart: the columns as they are (no fresh copies of 1M rows)
        return History(things, paths, thing, where, time, value, other, times, time_rank)
    ranks = None if time_rank is None else time_rank[keep]
    return History(things, paths, thing[keep], where[keep], time[keep], value[keep], other, times, ranks)


def _scan_ranks(scan_time: Floats, rank: Ints) -> tuple[Floats | None, Ints | None]:
    """Distinct times and each reading's rank among them, when the scan's times never go back.

    Rows appended in time order give them in one pass (no sort); otherwise (None, None).
    """
    if not len(scan_time) or not bool(np.all(scan_time[1:] >= scan_time[:-1])):
        return None, None
    new = np.ones(len(scan_time), dtype=bool)
    new[1:] = scan_time[1:] != scan_time[:-1]
    return scan_time[new], (np.cumsum(new) - 1)[rank]


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
