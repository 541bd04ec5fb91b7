"""`RedisStateStore`: engine checkpoints in Redis (redis-py asyncio); `save` is one MULTI/EXEC transaction.

Each checkpoint is a string key `<namespace>:v:<key>`; the key names are also held in a sorted
set `<namespace>:index` with score 0, so `load_prefix` is a lexical range (`ZRANGEBYLEX`) plus one
`MGET`, not a scan of the keyspace.
"""

from __future__ import annotations

from collections.abc import Mapping

import redis.asyncio as aioredis

from centinela.infra.redis_client import connect, with_retry

__all__ = ["RedisStateStore"]


class RedisStateStore:
    """A `StateStore` in Redis. Open with `await RedisStateStore.from_url("redis://127.0.0.1:56379/0")`."""

    def __init__(self, client: aioredis.Redis, *, namespace: str = "centinela:state") -> None:
        self._redis = client
        self._ns = namespace
        self._index = f"{namespace}:index"

    @classmethod
    async def from_url(cls, url: str, *, namespace: str = "centinela:state") -> RedisStateStore:
        """Connect to the Redis a `redis://host:port/db` URL names and check that it answers."""
        return cls(await connect(url), namespace=namespace)

    def _key(self, key: str) -> str:
        return f"{self._ns}:v:{key}"

    async def load(self, key: str) -> bytes | None:
        value = await with_retry(lambda: self._redis.get(self._key(key)), f"return checkpoint {key!r}")
        return None if value is None else _bytes(value)

    async def load_prefix(self, prefix: str) -> dict[str, bytes]:
        low = b"[" + prefix.encode()
        high = b"[" + prefix.encode() + b"\xff"  # 0xff never occurs in UTF-8: above every key with the prefix
        what = f"return the checkpoints under {prefix!r}"
        names = await with_retry(lambda: self._redis.zrangebylex(self._index, low, high), what)
        if not names:
            return {}
        values = await with_retry(lambda: self._redis.mget([self._key(_text(n)) for n in names]), what)
        return {_text(n): _bytes(v) for n, v in zip(names, values, strict=True) if v is not None}

    async def save(self, items: Mapping[str, bytes | None]) -> None:
        if not items:
            return

        async def transaction() -> None:
            async with self._redis.pipeline(transaction=True) as pipe:
                for key, value in items.items():
                    if value is None:
                        pipe.delete(self._key(key))
                        pipe.zrem(self._index, key)
                    else:
                        pipe.set(self._key(key), bytes(value))
                        pipe.zadd(self._index, {key: 0})
                await pipe.execute()

        await with_retry(transaction, f"save {len(items)} checkpoint(s), the first {next(iter(items))!r}")

    async def aclose(self) -> None:
        await self._redis.aclose()


def _bytes(value: bytes | str) -> bytes:
    return value.encode() if isinstance(value, str) else bytes(value)


def _text(value: bytes | str) -> str:
    return value if isinstance(value, str) else value.decode()
