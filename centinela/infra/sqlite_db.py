"""A SQLite connection owned by one worker thread, so the event loop never blocks on the database."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from centinela.errors import ConfigError

__all__ = ["SqliteWorker", "sqlite_path"]

T = TypeVar("T")


def sqlite_path(url: str) -> str:
    """The file of a `sqlite:///path` URL (`sqlite:///:memory:` for an in-memory database)."""
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        msg = f"The SQLite URL {url!r} must start with {prefix!r}."
        raise ConfigError(msg)
    return url[len(prefix) :] or ":memory:"


class SqliteWorker:
    """Runs every statement of one connection on one dedicated thread."""

    def __init__(self, path: str, schema: str) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        self._path = path
        self._schema = schema
        self._conn: sqlite3.Connection | None = None

    def _open(self) -> sqlite3.Connection:
        if self._conn is None:
            if self._path != ":memory:":
                Path(self._path).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(self._schema)
            self._conn = conn
        return self._conn

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, lambda: fn(self._open()))

    def run_sync(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """For command-line tools outside an event loop."""
        return self._pool.submit(lambda: fn(self._open())).result()

    async def aclose(self) -> None:
        def close(_: sqlite3.Connection) -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        if self._conn is not None:
            await self.run(close)
        self._pool.shutdown(wait=True)
