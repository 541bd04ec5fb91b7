"""Live state in Redis: current values, active alarms, alarm state and locks (pipelined writes).

Keys (architecture.md):

- `telemetry:{thingId}:current` hash: path → JSON value, plus `path@t` → epoch seconds;
- `alarms:active:{tenant}` sorted set: alarm id scored by severity (critical 4 … low 1);
- `alarm:{alarmId}:state` hash: the alarm's fields (state, severity, thing, rule, time, ...);
- `lock:{resource}` string with a TTL, holding the owner's token.

A batch of current values is one call of a small server-side script (one round trip) that compares
times, so an older reading never overwrites a newer one; alarm writes go through one pipeline.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from centinela.infra.redis_client import connect, with_retry

__all__ = ["SEVERITY_SCORE", "AlarmState", "CurrentValue", "RedisLive", "RedisLock"]

SEVERITY_SCORE: dict[str, int] = {"critical": 4, "high": 3, "medium": 2, "warning": 2, "low": 1}

# KEYS[i] = hash of value i; ARGV[3i-2..3i] = its path, JSON value, time. A value is written only
# when newer than the stored one; returns how many were. One call stores a whole batch.
_SET_IF_NEWER = """
local written = 0
for i, key in ipairs(KEYS) do
  local path, t = ARGV[3 * i - 2], ARGV[3 * i]
  local old = redis.call('HGET', key, path .. '@t')
  if not old or tonumber(old) <= tonumber(t) then
    redis.call('HSET', key, path, ARGV[3 * i - 1], path .. '@t', t)
    written = written + 1
  end
end
return written
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_EXTEND = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""


@dataclass(frozen=True, slots=True)
class CurrentValue:
    """One current value of a thing: `path` (JSON pointer), JSON `value`, `time` (epoch seconds)."""

    thing_id: str
    path: str
    value: Any
    time: float


@dataclass(frozen=True, slots=True)
class AlarmState:
    """An alarm as the console shows it; `active` ones are in `alarms:active:{tenant}`."""

    alarm_id: str
    tenant: str
    thing_id: str
    rule: str
    state: str
    severity: str
    time: float
    active: bool
    message: str = ""


def _text(value: bytes | str) -> str:
    return value if isinstance(value, str) else value.decode()


class RedisLock:
    """A `lock:{resource}` held by one owner until released or its TTL passes."""

    def __init__(self, live: RedisLive, resource: str, ttl: float) -> None:
        self._live = live
        self.key = f"lock:{resource}"
        self.ttl = ttl
        self.token = uuid.uuid4().hex

    async def acquire(self) -> bool:
        """Take the lock if nobody holds it; return whether we hold it now."""
        r = self._live.redis
        ms = int(self.ttl * 1000)
        return bool(await with_retry(lambda: r.set(self.key, self.token, nx=True, px=ms), f"take {self.key}"))

    async def extend(self) -> bool:
        """Restart the TTL; `False` when the lock expired and is no longer ours."""
        r, ms = self._live.redis, int(self.ttl * 1000)
        done = await with_retry(lambda: r.eval(_EXTEND, 1, self.key, self.token, ms), f"extend {self.key}")
        return bool(done)

    async def release(self) -> bool:
        """Release the lock if it is still ours."""
        r = self._live.redis
        done = await with_retry(lambda: r.eval(_RELEASE, 1, self.key, self.token), f"release {self.key}")
        return bool(done)


class RedisLive:
    """Current values, active alarms, alarm state and locks. `await RedisLive.from_url(url)`."""

    def __init__(self, client: aioredis.Redis) -> None:
        self.redis = client
        self._set_if_newer = client.register_script(_SET_IF_NEWER)

    @classmethod
    async def from_url(cls, url: str) -> RedisLive:
        return cls(await connect(url))

    # ------------------------------------------------------------------ current values

    async def write_current(self, values: Sequence[CurrentValue]) -> int:
        """Store many current values in one round trip; return how many were newer than stored.

        Within one call, later items win over earlier ones with the same time.
        """
        if not values:
            return 0
        keys = [f"telemetry:{v.thing_id}:current" for v in values]
        args: list[str] = []
        for v in values:
            args += (v.path, json.dumps(v.value, separators=(",", ":")), repr(float(v.time)))
        written = await with_retry(
            lambda: self._set_if_newer(keys=keys, args=args), f"store {len(values)} current values"
        )
        return int(written)

    async def current(self, thing_id: str) -> dict[str, CurrentValue]:
        """Every current value of a thing, by path."""
        key = f"telemetry:{thing_id}:current"
        raw = await with_retry(lambda: self.redis.hgetall(key), f"return the current values of {thing_id}")
        fields = {_text(k): _text(v) for k, v in raw.items()}
        return {
            path: CurrentValue(thing_id, path, json.loads(text), float(fields.get(path + "@t", "nan")))
            for path, text in fields.items()
            if not path.endswith("@t")
        }

    # ------------------------------------------------------------------ alarms

    async def write_alarms(self, alarms: Sequence[AlarmState]) -> None:
        """Store alarm states in one round trip; active ones join their tenant's sorted set."""
        if not alarms:
            return

        async def pipeline() -> None:
            async with self.redis.pipeline(transaction=False) as pipe:
                for a in alarms:
                    _queue_alarm(pipe, a)
                await pipe.execute()

        await with_retry(pipeline, f"store {len(alarms)} alarm states")

    async def active_alarms(self, tenant: str, *, min_severity: str | None = None) -> list[tuple[str, str]]:
        """`(alarm id, severity)` of a tenant's active alarms, most severe first."""
        low = SEVERITY_SCORE.get(min_severity, 0) if min_severity else 0
        names = {score: name for name, score in SEVERITY_SCORE.items() if name != "warning"}
        key = f"alarms:active:{tenant}"
        rows: list[Any] = await with_retry(
            lambda: self.redis.zrevrangebyscore(key, "+inf", low, withscores=True),
            f"return the active alarms of tenant {tenant!r}",
        )
        return [(_text(row[0]), names.get(int(row[1]), "unknown")) for row in rows]

    async def alarm_state(self, alarm_id: str) -> AlarmState | None:
        key = f"alarm:{alarm_id}:state"
        raw = await with_retry(lambda: self.redis.hgetall(key), f"return the state of alarm {alarm_id!r}")
        if not raw:
            return None
        f: Mapping[str, str] = {_text(k): _text(v) for k, v in raw.items()}
        return AlarmState(
            alarm_id, f["tenant"], f["thing_id"], f["rule"], f["state"], f["severity"], float(f["time"]),
            f["active"] == "1", f.get("message", ""),
        )

    # ------------------------------------------------------------------ locks

    def lock(self, resource: str, *, ttl: float = 10.0) -> RedisLock:
        """A lock on `resource` for single-writer tasks (acquire, extend, release)."""
        return RedisLock(self, resource, ttl)

    async def aclose(self) -> None:
        await self.redis.aclose()


def _queue_alarm(pipe: Any, a: AlarmState) -> None:
    pipe.hset(
        f"alarm:{a.alarm_id}:state",
        mapping={
            "tenant": a.tenant, "thing_id": a.thing_id, "rule": a.rule, "state": a.state,
            "severity": a.severity, "time": repr(float(a.time)), "active": "1" if a.active else "0",
            "message": a.message,
        },
    )
    if a.active:
        pipe.zadd(f"alarms:active:{a.tenant}", {a.alarm_id: SEVERITY_SCORE.get(a.severity, 0)})
    else:
        pipe.zrem(f"alarms:active:{a.tenant}", a.alarm_id)
