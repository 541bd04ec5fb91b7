"""`PostgresStateStore`: engine checkpoints in a PostgreSQL table; `save` is one transaction.

Table `centinela_state(key text COLLATE "C" primary key, value bytea)`, created when missing.
`load_prefix` is a range scan on the primary key in byte order (`key >= prefix AND key < prefix ||
U+FFFF`), so it uses the index. A connection lost between calls is reopened once per call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import psycopg

from centinela.errors import StateError

__all__ = ["PostgresStateStore"]

_DDL = 'CREATE TABLE IF NOT EXISTS centinela_state (key text COLLATE "C" PRIMARY KEY, value bytea NOT NULL)'
_UPSERT = (
    "INSERT INTO centinela_state (key, value) VALUES (%s, %s) "
    "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value"
)
_HIGH = "\uffff"


def _safe(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}:{parts.port or 5432}{parts.path}"


class PostgresStateStore:
    """A `StateStore` in PostgreSQL. Open with `await PostgresStateStore.open("postgresql://…")`."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, url: str) -> PostgresStateStore:
        store = cls(url)
        await store._run(lambda conn: conn.execute(_DDL))
        return store

    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        if self._conn is None or self._conn.closed:
            try:
                self._conn = await psycopg.AsyncConnection.connect(
                    self.url, autocommit=True, connect_timeout=5
                )
            except psycopg.Error as exc:
                msg = f"PostgreSQL at {_safe(self.url)} cannot be reached for engine checkpoints: {exc}."
                raise StateError(msg) from exc
        return self._conn

    async def _run(self, work: Any) -> Any:
        """Run `work(conn)`; on a lost connection, once more on a fresh one."""
        async with self._lock:
            conn = await self._connection()
            try:
                return await work(conn)
            except psycopg.OperationalError:
                await conn.close()
            except psycopg.Error as exc:
                msg = f"PostgreSQL at {_safe(self.url)} refused an engine checkpoint operation: {exc}."
                raise StateError(msg) from exc
            conn = await self._connection()
            try:
                return await work(conn)
            except psycopg.Error as exc:
                msg = f"PostgreSQL at {_safe(self.url)} failed on an engine checkpoint: {exc}."
                raise StateError(msg) from exc

    async def load(self, key: str) -> bytes | None:
        async def q(conn: psycopg.AsyncConnection[Any]) -> bytes | None:
            cur = await conn.execute("SELECT value FROM centinela_state WHERE key = %s", (key,))
            row = await cur.fetchone()
            return None if row is None else bytes(row[0])

        result: bytes | None = await self._run(q)
        return result

    async def load_prefix(self, prefix: str) -> dict[str, bytes]:
        async def q(conn: psycopg.AsyncConnection[Any]) -> dict[str, bytes]:
            cur = await conn.execute(
                "SELECT key, value FROM centinela_state WHERE key >= %s AND key < %s",
                (prefix, prefix + _HIGH),
            )
            return {k: bytes(v) for k, v in await cur.fetchall() if k.startswith(prefix)}

        result: dict[str, bytes] = await self._run(q)
        return result

    async def save(self, items: Mapping[str, bytes | None]) -> None:
        """Write and delete (value None) every item in one transaction."""
        upserts = [(k, v) for k, v in items.items() if v is not None]
        deletes = [k for k, v in items.items() if v is None]

        async def tx(conn: psycopg.AsyncConnection[Any]) -> None:
            async with conn.transaction(), conn.cursor() as cur:
                if upserts:
                    await cur.executemany(_UPSERT, upserts)
                if deletes:
                    await cur.execute("DELETE FROM centinela_state WHERE key = ANY(%s)", (deletes,))

        await self._run(tx)

    async def aclose(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None
