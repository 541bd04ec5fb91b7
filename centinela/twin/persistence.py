"""Where the embedded store keeps things and policies: in memory, or in SQLite (group-committed)."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections.abc import Awaitable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

from centinela.errors import TwinError
from centinela.twin.commands import ThingRecord
from centinela.twin.policies import PolicyRecord

__all__ = [
    "MemoryPersistence",
    "PolicyRecord",
    "SqlitePersistence",
    "TwinPersistence",
    "open_persistence",
    "to_the_end",
]

JSON = Any
log = logging.getLogger(__name__)


class TwinPersistence(Protocol):
    """Durable state of the embedded store. `save` returns once the write is durable."""

    async def load(self) -> tuple[list[ThingRecord], list[PolicyRecord]]: ...

    async def save(self, things: list[ThingRecord], policies: list[PolicyRecord]) -> None: ...

    async def flush(self) -> None:
        """Return once everything saved so far is durable."""
        ...

    async def aclose(self) -> None: ...


class MemoryPersistence:
    """Keeps the records in dicts: a store re-opened on the same object sees them again."""

    def __init__(self) -> None:
        self.things: dict[str, ThingRecord] = {}
        self.policies: dict[str, PolicyRecord] = {}

    async def load(self) -> tuple[list[ThingRecord], list[PolicyRecord]]:
        return list(self.things.values()), list(self.policies.values())

    async def save(self, things: list[ThingRecord], policies: list[PolicyRecord]) -> None:
        for record in things:
            self.things[record.thing_id] = record
        for policy in policies:
            self.policies[policy.policy_id] = policy

    def keep(self, record: ThingRecord, policies: list[PolicyRecord]) -> None:
        """`save` of one record without the coroutine: the embedded store's write path calls it."""
        self.things[record.thing_id] = record
        for policy in policies:
            self.policies[policy.policy_id] = policy

    async def flush(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


_SCHEMA = """
CREATE TABLE IF NOT EXISTS things (
    thing_id TEXT PRIMARY KEY,
    revision INTEGER NOT NULL,
    thing TEXT,
    created REAL NOT NULL,
    modified REAL NOT NULL,
    metadata TEXT
);
CREATE TABLE IF NOT EXISTS policies (
    policy_id TEXT PRIMARY KEY,
    policy TEXT
);
"""


def _dumps(value: JSON) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"))


_Batch = tuple[list[ThingRecord], list[PolicyRecord]]


class SqlitePersistence:
    """SQLite in WAL mode, used from one worker thread so the event loop never blocks on it.

    Concurrent `save` calls are group-committed: while one transaction runs in the thread, the
    next writes gather and go together in the following transaction; each caller returns once
    the transaction holding its write has committed.

    With `write_behind=True` a caller does not wait: its write goes into the next transaction
    and is durable once `flush()` (or `aclose()`) returns. A transaction that fails keeps its
    writes queued, in order, for the next one, and `flush()` raises the failure until a
    transaction succeeds: nothing is dropped, but a crash loses what was not yet committed.
    """

    def __init__(self, path: str | Path, *, write_behind: bool = False) -> None:
        self.path = str(path)
        self.write_behind = write_behind
        self._failure: TwinError | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="centinela-twin-sqlite")
        self._conn: sqlite3.Connection | None = None
        self._pending: list[tuple[_Batch, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None
        self.transactions = 0

    def _open(self) -> None:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.executescript(_SCHEMA)
        self._conn = conn

    def _load(self) -> tuple[list[ThingRecord], list[PolicyRecord]]:
        if self._conn is None:
            self._open()
        assert self._conn is not None  # noqa: S101 - set by _open
        things = [
            ThingRecord(
                tid,
                rev,
                json.loads(thing) if thing is not None else None,
                created,
                modified,
                json.loads(meta) if meta is not None else None,
            )
            for tid, rev, thing, created, modified, meta in self._conn.execute(
                "SELECT thing_id, revision, thing, created, modified, metadata FROM things"
            )
        ]
        policies = [
            PolicyRecord(pid, json.loads(policy) if policy is not None else None)
            for pid, policy in self._conn.execute("SELECT policy_id, policy FROM policies")
        ]
        return things, policies

    def _write(self, batches: list[_Batch]) -> None:
        conn = self._conn
        if conn is None:
            self._open()
            conn = self._conn
        assert conn is not None  # noqa: S101 - set by _open
        thing_rows = []
        policy_rows = []
        for things, policies in batches:
            for r in things:
                thing_rows.append(
                    (
                        r.thing_id,
                        r.revision,
                        _dumps(r.thing),
                        r.created,
                        r.modified,
                        _dumps(r.metadata),
                    )
                )
            for p in policies:
                policy_rows.append((p.policy_id, _dumps(p.policy)))
        conn.execute("BEGIN")
        try:
            conn.executemany("INSERT OR REPLACE INTO things VALUES (?, ?, ?, ?, ?, ?)", thing_rows)
            conn.executemany("INSERT OR REPLACE INTO policies VALUES (?, ?)", policy_rows)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        self.transactions += 1

    async def load(self) -> tuple[list[ThingRecord], list[PolicyRecord]]:
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._load)

    async def save(self, things: list[ThingRecord], policies: list[PolicyRecord]) -> None:
        await self.submit(things, policies)

    def submit(self, things: list[ThingRecord], policies: list[PolicyRecord]) -> asyncio.Future[None]:
        """Queue a write for the next transaction; the future is done once it has committed.

        The write happens even if the caller stops waiting for the future (await it through
        `asyncio.shield`: cancelling the waiter must not cancel the future).
        """
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append(((things, policies), future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain())
        if self.write_behind:
            future.set_result(None)  # durable at the next transaction; `flush` waits for it
        return future

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                await loop.run_in_executor(self._executor, self._write, [b for b, _ in batch])
            except Exception as exc:  # noqa: BLE001 - every waiting writer must hear of the failure
                error = TwinError(
                    503,
                    "things:thing.unavailable",
                    f"The twin database '{self.path}' could not store the change: {exc}.",
                    "Please try again later.",
                )
                if self.write_behind:
                    # The changes are visible already: keep them, in order, for the next try.
                    self._pending = batch + self._pending
                    self._failure = error
                    log.warning("%s Kept %d write(s) queued for the next flush.", error.message, len(batch))
                    return
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
                continue
            self._failure = None
            for _, future in batch:
                if not future.done():
                    future.set_result(None)

    async def flush(self) -> None:
        """Return once every write submitted so far is committed (raise `TwinError` 503 if not)."""
        if self._pending and (self._writer is None or self._writer.done()):
            self._writer = asyncio.create_task(self._drain())
        if self._writer is not None:
            await asyncio.shield(self._writer)
        if self._pending and self._failure is not None:
            raise self._failure

    async def aclose(self) -> None:
        failure: TwinError | None = None
        try:
            await self.flush()
        except TwinError as exc:
            failure = exc
        loop = asyncio.get_running_loop()
        if self._conn is not None:
            await loop.run_in_executor(self._executor, self._conn.close)
            self._conn = None
        self._executor.shutdown(wait=True)
        if failure is not None:
            raise failure


def open_persistence(url: str | None) -> TwinPersistence:
    """Persistence for a URL: `memory://` (or `None`), `sqlite:///path/to/twins.db` or a plain path.

    `sqlite:///path?write-behind=true` selects `SqlitePersistence(write_behind=True)`.
    """
    if url is None or url in ("memory://", "memory:", ":memory:"):
        return MemoryPersistence()
    if url.startswith("sqlite://"):
        path, _, query = url[len("sqlite://") :].partition("?")
        path = path[1:] if path.startswith("/") else path
        options = dict(part.partition("=")[::2] for part in query.split("&") if part)
        behind = options.pop("write-behind", "false").lower()
        if options or behind not in ("true", "false", "1", "0"):
            from centinela.errors import ConfigError

            msg = f"The twin store URL '{url}' has unknown options; only write-behind=true|false is known."
            raise ConfigError(msg)
        return SqlitePersistence(path or ":memory:", write_behind=behind in ("true", "1"))
    if "://" in url:
        from centinela.errors import ConfigError

        msg = f"The twin store URL '{url}' is not supported; use memory:// or sqlite:///PATH."
        raise ConfigError(msg)
    return SqlitePersistence(url)


async def to_the_end(awaitable: Awaitable[None]) -> bool:
    """Await a durable write to its end even when the caller is cancelled meanwhile.

    Returns whether the caller was cancelled: it must then finish making the write visible and
    raise `CancelledError` itself, so memory never lags what the database holds.
    """
    task = asyncio.ensure_future(awaitable)  # a future stays as it is; a coroutine becomes a task
    cancelled = False
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.cancelled():
                raise
            cancelled = True
    task.result()
    return cancelled
