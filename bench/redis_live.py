"""Live-state writes to Redis: RedisLive (batched, one round trip per batch) vs one round trip per write.

The same kind of current values (N things × paths) and alarm states are written by
- ours: `RedisLive.write_current` (one newest-wins script call per batch of BATCH) and
  `write_alarms` (one pipeline per batch);
- baseline: plain redis-py, awaiting each HSET / ZADD on its own (what code without pipelining does);
- also shown: plain HSETs in one pipeline without the newest-wins check (a ceiling).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid

from _services import require

from centinela.infra.redis_live import SEVERITY_SCORE, AlarmState, CurrentValue, RedisLive

WRITES = int(os.environ.get("BENCH_WRITES", "20000"))
BATCH = 500


def _values(tag: str) -> list[CurrentValue]:
    return [
        CurrentValue(f"bench.{tag}:well-{i % 200}", f"/features/s{i % 10}/properties/value", i * 0.5, 1e9 + i)
        for i in range(WRITES)
    ]


def _alarms(tag: str) -> list[AlarmState]:
    sev = ["critical", "high", "medium", "low"]
    return [
        AlarmState(f"{tag}-a{i % 2000}", f"t-{tag}", f"bench.{tag}:well-{i % 200}", "R", "active",
                   sev[i % 4], 1e9 + i, i % 3 != 0, "m")
        for i in range(WRITES // 4)
    ]


async def _ours(live: RedisLive, tag: str) -> float:
    values, alarms = _values(tag), _alarms(tag)
    began = time.perf_counter()
    for i in range(0, len(values), BATCH):
        await live.write_current(values[i : i + BATCH])
    for i in range(0, len(alarms), BATCH):
        await live.write_alarms(alarms[i : i + BATCH])
    return time.perf_counter() - began


async def _unpipelined(live: RedisLive, tag: str) -> float:
    r = live.redis
    # A quarter of the writes: one round trip each is slow, and the rate is what is compared.
    values, alarms = _values(tag)[: WRITES // 4], _alarms(tag)[: WRITES // 16]
    began = time.perf_counter()
    for v in values:
        await r.hset(f"telemetry:{v.thing_id}:current",
                     mapping={v.path: json.dumps(v.value), v.path + "@t": repr(v.time)})
    for a in alarms:
        await r.hset(f"alarm:{a.alarm_id}:state", mapping={"state": a.state, "severity": a.severity,
                                                            "active": "1" if a.active else "0"})
        if a.active:
            await r.zadd(f"alarms:active:{a.tenant}", {a.alarm_id: SEVERITY_SCORE[a.severity]})
        else:
            await r.zrem(f"alarms:active:{a.tenant}", a.alarm_id)
    return time.perf_counter() - began


async def _plain_pipeline(live: RedisLive, tag: str) -> float:
    r = live.redis
    values = _values(tag)
    began = time.perf_counter()
    for i in range(0, len(values), BATCH):
        async with r.pipeline(transaction=False) as pipe:
            for v in values[i : i + BATCH]:
                pipe.hset(f"telemetry:{v.thing_id}:current",
                          mapping={v.path: json.dumps(v.value), v.path + "@t": repr(v.time)})
            await pipe.execute()
    return time.perf_counter() - began


async def main() -> None:
    live = await RedisLive.from_url(require("redis", "redis"))
    total = WRITES + WRITES // 4
    tags: list[str] = []
    ours_t, base_t, plain_t = [], [], []
    try:
        for _ in range(3):
            for runner, sink in ((_ours, ours_t), (_unpipelined, base_t)):
                tag = uuid.uuid4().hex[:8]
                tags.append(tag)
                sink.append(await runner(live, tag))
            tag = uuid.uuid4().hex[:8]
            tags.append(tag)
            plain_t.append(await _plain_pipeline(live, tag))
    finally:
        for tag in tags:
            keys = [k async for k in live.redis.scan_iter(match=f"*{tag}*", count=1000)]
            for i in range(0, len(keys), 1000):
                await live.redis.delete(*keys[i : i + 1000])
        await live.aclose()
    ours, base = total / min(ours_t), (WRITES // 4 + WRITES // 16) / min(base_t)
    plain = WRITES / min(plain_t)
    print(f"writes per run: {WRITES} current values + {WRITES // 4} alarm states")
    print(f"ours (RedisLive, batched, newest-wins):   {ours:,.0f} writes/s")
    print(f"unpipelined redis-py:                     {base:,.0f} writes/s")
    print(f"plain pipelined HSET (no check):          {plain:,.0f} writes/s")
    print(json.dumps({"bench": "redis", "ours_per_s": round(ours), "baseline_per_s": round(base),
                      "ratio": round(ours / base, 2), "plain_pipeline_per_s": round(plain)}))


if __name__ == "__main__":
    asyncio.run(main())
