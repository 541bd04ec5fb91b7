"""Redis connections for Centinela: one client per URL, and a retry for idempotent writes after a reconnect.

After Redis restarts, pooled connections are dead; redis-py reconnects on the next command, but a
pipeline (notably one that first loads its scripts) can fail once on the stale connection. Every
Centinela write to Redis is idempotent (SET, HSET, ZADD, DEL, compare-by-time scripts), so it is
simply run again, a bounded number of times; the last failure becomes a `StateError`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from centinela.errors import StateError

__all__ = ["connect", "with_retry"]

T = TypeVar("T")


async def connect(url: str) -> aioredis.Redis:
    """A client for `redis://host:port/db` that answered a PING, or `StateError`."""
    client = aioredis.Redis.from_url(url, decode_responses=False, socket_connect_timeout=5)
    try:
        await client.ping()
    except RedisError as exc:
        await client.aclose()
        msg = f"Redis at {url} does not answer: {exc!r}."
        raise StateError(msg) from exc
    return client


async def with_retry(op: Callable[[], Awaitable[T]], what: str, *, attempts: int = 3) -> T:
    """Run the idempotent `op`, again after a connection error (up to `attempts` times)."""
    for attempt in range(1, attempts + 1):
        try:
            return await op()
        except (RedisConnectionError, RedisTimeoutError) as exc:
            if attempt == attempts:
                msg = f"Redis did not {what}: {exc!r}."
                raise StateError(msg) from exc
            await asyncio.sleep(0.05 * attempt)
        except RedisError as exc:
            msg = f"Redis did not {what}: {exc!r}."
            raise StateError(msg) from exc
    msg = f"Redis did not {what}."  # pragma: no cover - attempts >= 1
    raise StateError(msg)
