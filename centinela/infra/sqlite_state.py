"""SQLite state store: engine checkpoints in one table, each `save` one transaction."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping

from centinela.errors import StateError
from centinela.infra.sqlite_db import SqliteWorker, sqlite_path

__all__ = ["SqliteStateStore"]

SCHEMA = "CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value BLOB NOT NULL);"


class SqliteStateStore:
    """A `StateStore` in a SQLite file (`sqlite:///path`); `save` applies all of its items or none."""

    def __init__(self, url: str) -> None:
        self._db = SqliteWorker(sqlite_path(url), SCHEMA)

    async def load(self, key: str) -> bytes | None:
        def q(conn: sqlite3.Connection) -> bytes | None:
            row = conn.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
            return None if row is None else bytes(row[0])

        return await self._db.run(q)

    async def load_prefix(self, prefix: str) -> dict[str, bytes]:
        def q(conn: sqlite3.Connection) -> dict[str, bytes]:
            rows = conn.execute(
                "SELECT key, value FROM state WHERE substr(key, 1, ?) = ?", (len(prefix), prefix)
            )
            return {k: bytes(v) for k, v in rows}

        return await self._db.run(q)

    async def save(self, items: Mapping[str, bytes | None]) -> None:
        def tx(conn: sqlite3.Connection) -> None:
            try:
                conn.execute("BEGIN IMMEDIATE")
                for key, value in items.items():
                    if value is None:
                        conn.execute("DELETE FROM state WHERE key = ?", (key,))
                    else:
                        conn.execute(
                            "INSERT INTO state (key, value) VALUES (?, ?) "
                            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                            (key, bytes(value)),
                        )
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                conn.execute("ROLLBACK")
                msg = f"Saving {len(items)} state items to SQLite failed: {exc}."
                raise StateError(msg) from exc

        await self._db.run(tx)

    async def aclose(self) -> None:
        await self._db.aclose()
