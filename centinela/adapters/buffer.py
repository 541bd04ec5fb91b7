"""Store-and-forward: a bounded SQLite queue of commands, replayed in order when the output returns."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from centinela.adapters.output import Command, CommandRejected, OutputUnavailable, Sink
from centinela.errors import AdapterError

__all__ = ["CommandQueue", "StoreAndForward"]

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS queue (id INTEGER PRIMARY KEY AUTOINCREMENT, command BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


class CommandQueue:
    """Commands waiting for the output, oldest first, at most `max_items` of them, on disk.

    When full, the oldest commands are dropped to make room, and `dropped` (kept in the file,
    so it survives restarts) counts them. Calls run in a worker thread, one at a time.
    """

    def __init__(self, path: str | Path, max_items: int) -> None:
        if max_items < 1:
            msg = f"The queue bound must be at least 1, not {max_items}."
            raise AdapterError(msg)
        self.path = str(path)
        self.max_items = max_items
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.executescript("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;" + _SCHEMA)
        self._lock = asyncio.Lock()
        self.length = int(self._db.execute("SELECT count(*) FROM queue").fetchone()[0])
        row = self._db.execute("SELECT value FROM counters WHERE name='dropped'").fetchone()
        self.dropped = int(row[0]) if row else 0

    def _put(self, blobs: list[bytes]) -> int:
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT INTO queue (command) VALUES (?)", [(b,) for b in blobs])
            excess = self.length + len(blobs) - self.max_items
            if excess > 0:
                self._db.execute(
                    "DELETE FROM queue WHERE id IN (SELECT id FROM queue ORDER BY id LIMIT ?)", (excess,)
                )
                self._db.execute(
                    "INSERT INTO counters VALUES ('dropped', ?) "
                    "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
                    (excess,),
                )
        return max(excess, 0)

    async def put(self, commands: Sequence[Command]) -> int:
        """Append commands; return how many of the oldest were dropped to stay within the bound."""
        if not commands:
            return 0
        async with self._lock:
            excess = await asyncio.to_thread(self._put, [c.to_json() for c in commands])
            self.length += len(commands) - excess
            if excess:
                self.dropped += excess
                log.warning(
                    "The store-and-forward queue %s is full (%d commands): dropped the %d oldest, "
                    "%d dropped in all.",
                    self.path,
                    self.max_items,
                    excess,
                    self.dropped,
                )
        return excess

    def _peek(self, limit: int) -> list[tuple[int, bytes]]:
        rows = self._db.execute("SELECT id, command FROM queue ORDER BY id LIMIT ?", (limit,)).fetchall()
        return [(int(i), bytes(c)) for i, c in rows]

    async def peek(self, limit: int = 100) -> list[tuple[int, Command]]:
        """The oldest `limit` commands with their queue ids, without removing them."""
        async with self._lock:
            rows = await asyncio.to_thread(self._peek, limit)
        return [(i, Command.from_json(blob)) for i, blob in rows]

    def _remove(self, upto: int) -> int:
        return self._db.execute("DELETE FROM queue WHERE id <= ?", (upto,)).rowcount

    async def remove(self, ids: Sequence[int]) -> None:
        """Remove the head of the queue up to the newest of `ids` (ids come from `peek`)."""
        if not ids:
            return
        async with self._lock:
            removed = await asyncio.to_thread(self._remove, max(ids))
            self.length -= removed

    def __len__(self) -> int:
        return self.length

    def close(self) -> None:
        self._db.close()


class StoreAndForward:
    """Sends commands to a sink; while the sink is unavailable they wait in the queue, in order.

    Once anything is queued, new commands queue behind it, so the output sees every thing's
    commands in their original order. `run()` replays the queue whenever there is one.
    """

    def __init__(
        self, sink: Sink, queue: CommandQueue, *, retry_initial: float = 0.2, retry_max: float = 5.0
    ) -> None:
        self.sink = sink
        self.queue = queue
        self.sent = 0
        self.replayed = 0
        self.rejected = 0
        self._retry_initial = retry_initial
        self._retry_max = retry_max
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def dropped(self) -> int:
        return self.queue.dropped

    async def send(self, commands: Sequence[Command]) -> None:
        pending = list(commands)
        if len(self.queue) == 0:
            while pending:
                try:
                    await self.sink.send(pending)
                    self.sent += len(pending)
                    return
                except CommandRejected as exc:
                    self._reject(pending[exc.index], exc)
                    self.sent += exc.index
                    pending = pending[exc.index + 1 :]
                except OutputUnavailable as exc:
                    log.warning("Output unavailable, queueing %d commands: %s", len(pending) - exc.sent, exc)
                    self.sent += exc.sent
                    pending = pending[exc.sent :]
                    break
        if pending:
            self._idle.clear()
            await self.queue.put(pending)
            self._wake.set()

    def _reject(self, command: Command, exc: Exception) -> None:
        self.rejected += 1
        log.error("Output rejected a command for %s and it is not retried: %s", command.thing_id, exc)

    async def drained(self) -> None:
        """Return once the queue is empty."""
        await self._idle.wait()

    async def run(self) -> None:
        """Replay the queue in order until cancelled."""
        delay = self._retry_initial
        while True:
            if len(self.queue) == 0:
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            batch = await self.queue.peek(100)
            ids = [i for i, _ in batch]
            commands = [c for _, c in batch]
            try:
                await self.sink.send(commands)
            except CommandRejected as exc:
                self._reject(commands[exc.index], exc)
                await self._done(ids[: exc.index + 1], exc.index)
                continue
            except OutputUnavailable as exc:
                await self._done(ids[: exc.sent], exc.sent)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._retry_max)
                continue
            delay = self._retry_initial
            await self._done(ids, len(ids))

    async def _done(self, ids: list[int], delivered: int) -> None:
        await self.queue.remove(ids)
        self.sent += delivered
        self.replayed += delivered
