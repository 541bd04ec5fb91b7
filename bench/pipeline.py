"""The distributed engine path: events/s per engine worker (1 vs 2 in one group) and reading→alarm latency.

Throughput: N Ditto twin events (500 wells; creations, then tubing-pressure changes) are produced once
to a topic of PARTITIONS partitions. Then, each in a new consumer group:
- baseline: a bare aiokafka consumer doing `json.loads` per record and a commit per batch (the ceiling
  of reading the topic in Python, no rules);
- ours 1: one `EngineWorker` (decode, rules, merge commands to twin.commands, alarm transitions to the
  alarm topics, checkpoints in memory every second, offsets committed after flush), own process;
- ours 2: two `EngineWorker`s of one group, each in its own process, timed from the first event to the last.
Each kind runs BENCH_ROUNDS times (3); the best rate is reported, with the workers' CPU time per event
(the box is shared: CPU per event is the steadier figure).

Latency: the whole distributed pipeline at RATE readings/s — a producer of Ditto modify commands →
telemetry.raw → `KafkaConnectivity` + `EmbeddedTwinStore` (own process) → twin.events → `EngineWorker`
(own process) → alarms topic, read here. Every reading flips an alarm; the reading's send time travels
as the `centinela-source-time` header, so latency = when the alarm arrives here − when the reading was
sent (Kafka record timestamps split it into stages). Then the same with the worker alone: twin
events produced at RATE straight to twin.events (no twin service). p50/p99 leave out the first sixth
of each run (warm-up); each scenario runs BENCH_ROUNDS times and the round with the best p99 is reported
(all rounds are printed). BENCH_PART=throughput|latency|worker runs a part only.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from _services import bare_consumer_rate, require

from centinela.infra.kafka_admin import KafkaAdmin
from centinela.infra.kafka_bus import KafkaBus
from centinela.infra.memory_state import MemoryStateStore
from centinela.ports import ThingEvent
from centinela.rules.bus_sinks import AlarmSink, CommandSink
from centinela.rules.loading import load_program
from centinela.rules.worker import EngineWorker, WorkerSettings
from centinela.twin.messages import command_envelope, event_envelope
from centinela.twin.protocol import encode

_HERE = Path(__file__).resolve().parent
_loads: Callable[[bytes], Any]
try:  # the readers below share the box with the pipeline they measure: keep them cheap
    from orjson import loads as _loads
except ImportError:
    _loads = json.loads

EVENTS = int(os.environ.get("BENCH_EVENTS", "100000"))
RATE = int(os.environ.get("BENCH_RATE", "5000"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "6"))
PART = os.environ.get("BENCH_PART", "all")  # all, throughput, latency (both) or worker (worker alone)
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))  # runs of each kind; the best is reported
# BENCH_STAGES=1 also reads twin.events to time the reading→twin event stage: a diagnostic, since that
# reader decodes every twin event (readings and the engine's own writes) on the box it measures.
STAGES = os.environ.get("BENCH_STAGES") == "1"
PARTITIONS = 4
WELLS = 500
TUBING = "/features/pressure/properties/tubing"
RULES = """
namespace bench.pipeline
twins Well = things "*" where attributes.kind == "well"
compute Well computed.double = pressure.tubing * 2
alarm Well HighPressure severity critical
    when pressure.tubing > 1500
    clear when pressure.tubing < 1200
"""


def _rules() -> Path:
    path = Path(tempfile.mkdtemp(prefix="centinela-bench-")) / "wells.rules"
    path.write_text(RULES)
    return path


def _event(i: int, t0: float) -> tuple[str, bytes]:
    thing = f"org.acme.field:well-{i % WELLS}"
    if i < WELLS:
        doc = {"attributes": {"kind": "well"}, "features": {"pressure": {"properties": {"tubing": 1000.0}}}}
        event = ThingEvent(thing, "created", "/", doc, 1, t0)
    else:
        n = i // WELLS
        value = 1000.0 + (i % 7) * 100.0  # 1000…1600: the alarm goes on and off now and then
        event = ThingEvent(thing, "modified", TUBING, value, n + 1, t0 + n,
                           {"correlation-id": f"c-{i}"})
    return thing, encode(event_envelope(event)).encode()


async def _produce(url: str, topic: str) -> None:
    bus = await KafkaBus.from_url(url, partitions={topic: PARTITIONS})
    t0 = time.time() - EVENTS
    try:
        for i in range(EVENTS):
            await bus.publish(topic, *_event(i, t0))
    finally:
        await bus.aclose()


async def _baseline(bootstrap: str, topic: str, cpu: list[float]) -> float:
    began = time.process_time()
    rate = await bare_consumer_rate(bootstrap, topic, EVENTS, max_records=2000)
    cpu.append((time.process_time() - began) / EVENTS * 1e6)
    return rate


async def _run_worker(
    url: str, topic: str, group: str, rules: Path, counter: Any, prefix: str, cpu: Any
) -> float:
    """Run one worker until the group has seen every event; returns this worker's events/s.

    Adds the process's CPU seconds from its first event to the end to `cpu`.
    """
    bus = await KafkaBus.from_url(url)
    worker = EngineWorker(load_program([rules]), bus, MemoryStateStore(),
                          [CommandSink(bus, prefix + "twin.commands"), AlarmSink(bus, prefix)],
                          WorkerSettings(topic, group))
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    began: float | None = None
    cpu_began = 0.0
    reported = 0
    try:
        while True:
            done = worker.events + worker.ignored_own
            if done and began is None:
                began = time.perf_counter()
                cpu_began = time.process_time()
            with counter.get_lock():
                counter.value += done - reported
                total = counter.value
            reported = done
            if total >= EVENTS:
                break
            await asyncio.sleep(0.005)
        elapsed = time.perf_counter() - (began or time.perf_counter())
    finally:
        stop.set()
        await task
        await bus.aclose()
        with cpu.get_lock():
            cpu.value += time.process_time() - cpu_began
    return reported / elapsed if elapsed > 0 else 0.0


def _worker_process(
    url: str, topic: str, group: str, rules: Path, counter: Any, prefix: str, cpu: Any
) -> None:
    asyncio.run(_run_worker(url, topic, group, rules, counter, prefix, cpu))


def _workers(url: str, topic: str, rules: Path, count: int, prefix: str, cpu: list[float]) -> float:
    """Events/s of `count` workers of one group; appends their CPU microseconds per event to `cpu`."""
    ctx = mp.get_context("spawn")
    counter = ctx.Value("l", 0)
    used = ctx.Value("d", 0.0)
    group = f"bench-{count}-{uuid.uuid4().hex[:6]}"
    procs = [ctx.Process(target=_worker_process, args=(url, topic, group, rules, counter, prefix, used))
             for _ in range(count)]
    for p in procs:
        p.start()
    while counter.value == 0:
        time.sleep(0.001)
    began = time.perf_counter()
    while counter.value < EVENTS:
        time.sleep(0.001)
    elapsed = time.perf_counter() - began
    for p in procs:
        p.join(60)
    cpu.append(used.value / EVENTS * 1e6)
    return EVENTS / elapsed


# ---------------------------------------------------------------------- latency through the whole pipeline


def _connectivity_process(url: str, run: str, ready: Any) -> None:
    from centinela.twin.connectivity import KafkaConnectivity, load_connection
    from centinela.twin.store import EmbeddedTwinStore

    async def go() -> None:
        data = json.loads((_HERE.parent / "compose" / "ditto" / "connection-kafka.json").read_text())
        for source in data["sources"]:
            source["addresses"] = [f"{run}.{a}" for a in source["addresses"]]
        data["targets"][0]["address"] = f"{run}.twin.events/{{{{ thing:id }}}}"
        bus = await KafkaBus.from_url(url, partitions={f"{run}.twin.events": PARTITIONS})
        store = await EmbeddedTwinStore().open()
        async with KafkaConnectivity(load_connection(data), bus, store, group=f"ditto-{run}", freeze_gc=True):
            ready.value = 1
            while ready.value != 2:
                await asyncio.sleep(0.05)
        await store.aclose()
        await bus.aclose()

    asyncio.run(go())


def _latency_worker_process(url: str, run: str, rules: Path, ready: Any) -> None:
    async def go() -> None:
        bus = await KafkaBus.from_url(url)
        worker = EngineWorker(load_program([rules]), bus, MemoryStateStore(),
                              [CommandSink(bus, f"{run}.twin.commands"), AlarmSink(bus, f"{run}.")],
                              WorkerSettings(f"{run}.twin.events", f"rules-{run}", poll_seconds=0.05,
                                             freeze_gc=True))
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run(stop))
        while ready.value != 2:
            await asyncio.sleep(0.05)
        stop.set()
        await task
        await bus.aclose()

    asyncio.run(go())


async def _send(
    bus: KafkaBus, run: str, twin: bool, thing: str, path: str, value: Any, revision: int, ms: str | None
) -> None:
    """A reading: a Ditto modify/create command to telemetry.raw, or (worker only) its twin event."""
    headers = {"centinela-source-time": ms} if ms is not None else {}
    action = "create" if path == "/" else "modify"
    if twin:
        command = command_envelope(thing, action, path, value, headers=headers)
        await bus.publish(f"{run}.telemetry.raw", thing, encode(command).encode())
        return
    event = ThingEvent(thing, "created" if action == "create" else "modified", path, value, revision,
                       time.time(), headers)
    await bus.publish(f"{run}.twin.events", thing, encode(event_envelope(event)).encode())


async def _latency(url: str, rules: Path, *, twin: bool = True) -> tuple[list[float], int, float]:
    """Reading→alarm latencies through the whole pipeline (`twin`), or from twin.events on (worker only)."""
    run = f"lat{uuid.uuid4().hex[:6]}"
    ctx = mp.get_context("spawn")
    ready = ctx.Value("i", 0)
    procs = [ctx.Process(target=_latency_worker_process, args=(url, run, rules, ready))]
    if twin:
        procs.append(ctx.Process(target=_connectivity_process, args=(url, run, ready)))
    for p in procs:
        p.start()
    bus = await KafkaBus.from_url(url, partitions={f"{run}.telemetry.raw": PARTITIONS})
    things = [f"org.acme.lat:well-{i}" for i in range(100)]
    alarms = await bus.consumer([f"{run}.alarms.critical"], group=f"lat-{run}")
    events = await bus.consumer([f"{run}.twin.events"], group=f"lat-events-{run}") if STAGES else None
    latencies: list[float] = []
    stages: list[float] = []
    twin_stage: list[float] = []
    try:
        if not twin:
            await bus.ensure_topics([f"{run}.twin.events"])
            ready.value = 1
        while ready.value != 1:
            await asyncio.sleep(0.05)
        for thing in things:
            doc = {"attributes": {"kind": "well"},
                   "features": {"pressure": {"properties": {"tubing": 1000.0}}}}
            await _send(bus, run, twin, thing, "/", doc, 1, None)
        await bus.flush()
        await asyncio.sleep(3.0)  # creations applied and bound; the group has settled

        async def read() -> None:
            while True:
                for record in await alarms.getmany(timeout=0.1, max_records=5000):
                    now = time.time()
                    sent = _loads(record.value)["time"]
                    latencies.append(now - sent)
                    if record.timestamp is not None:
                        stages.append(record.timestamp - sent)

        async def read_events(events: Any) -> None:  # when the twin service published each reading's event
            while True:
                for record in await events.getmany(timeout=0.1, max_records=5000):
                    sent_ms = _loads(record.value).get("headers", {}).get("centinela-source-time")
                    if sent_ms is not None and record.timestamp is not None:
                        twin_stage.append(record.timestamp - int(sent_ms) / 1000)

        readers = [asyncio.create_task(read())]
        if events is not None:
            readers.append(asyncio.create_task(read_events(events)))
        total = int(RATE * SECONDS)
        began = time.perf_counter()
        for i in range(total):
            due = began + i / RATE
            if (lag := due - time.perf_counter()) > 0.002:
                await asyncio.sleep(lag)
            thing = things[i % len(things)]
            value = 2000.0 if (i // len(things)) % 2 == 0 else 1000.0  # every reading flips its alarm
            ms = str(int(time.time() * 1000))
            await _send(bus, run, twin, thing, TUBING, value, i + 2, ms)
        achieved = total / (time.perf_counter() - began)
        await bus.flush()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while len(latencies) < total // 2 and loop.time() < deadline:
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)
        for task in readers:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
    finally:
        ready.value = 2
        await alarms.aclose()
        if events is not None:
            await events.aclose()
        await bus.aclose()
        for p in procs:
            p.join(60)
    warm_twin, worker = twin_stage[len(twin_stage) // 6 :], stages[len(stages) // 6 :]
    seen = (f"reading→twin event published by the twin service p50 {_pct(warm_twin, 0.5) * 1000:.1f} / "
            f"p99 {_pct(warm_twin, 0.99) * 1000:.1f} ms; " if STAGES else "")
    print(f"stages: {seen}reading→alarm published by the worker p50 {_pct(worker, 0.5) * 1000:.1f} / p99 "
          f"{_pct(worker, 0.99) * 1000:.1f} ms")
    return latencies, int(RATE * SECONDS), achieved


def _warm_pcts(latencies: list[float]) -> tuple[float, float]:
    """p50 and p99 in ms, leaving out the first sixth (warm-up)."""
    warm = latencies[len(latencies) // 6 :]
    return _pct(warm, 0.5) * 1000, _pct(warm, 0.99) * 1000


def _rounds(pcts: list[tuple[float, float]]) -> list[str]:
    return [f"{a:.0f}/{b:.0f}" for a, b in pcts]


def _runs(values: list[float]) -> list[float]:
    return [round(v, 1) for v in values]


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def main() -> None:
    url = require("kafka", "pipeline")
    bootstrap = urlsplit(url).netloc  # the URL may carry tuning (kafka://host:port?linger_ms=2)
    run = f"benchp{uuid.uuid4().hex[:6]}"
    topic = f"{run}.twin.events"
    rules = _rules()
    base, one, two = [0.0], [0.0], [0.0]
    base_cpu: list[float] = []
    one_cpu: list[float] = []
    two_cpu: list[float] = []
    try:
        if PART in ("all", "throughput"):
            await _produce(url, topic)
            base = [await _baseline(bootstrap, topic, base_cpu) for _ in range(ROUNDS)]
            one = [await asyncio.to_thread(_workers, url, topic, rules, 1, f"{run}.", one_cpu)
                   for _ in range(ROUNDS)]
            two = [await asyncio.to_thread(_workers, url, topic, rules, 2, f"{run}.", two_cpu)
                   for _ in range(ROUNDS)]
        whole = [await _latency(url, rules) for _ in range(ROUNDS)] if PART in ("all", "latency") else []
        alone_runs = ROUNDS if PART != "throughput" else 0
        alones = [(await _latency(url, rules, twin=False))[0] for _ in range(alone_runs)]
    finally:
        admin = KafkaAdmin(bootstrap)
        await admin.start()
        await admin.delete([topic, f"{run}.twin.commands", f"{run}.alarms.critical",
                            f"{run}.alarms.warnings"])
        await admin.aclose()
    # Best of the rounds by p99 (the box is shared: a round can lose its cores to other work).
    whole_pcts = [_warm_pcts(run[0]) for run in whole]
    alone_pcts = [_warm_pcts(run) for run in alones]
    best = min(range(len(whole)), key=lambda i: whole_pcts[i][1], default=None)
    latencies, sent, achieved = whole[best] if best is not None else ([], 0, 0.0)
    p50, p99 = whole_pcts[best] if best is not None else (float("nan"), float("nan"))
    w50, w99 = min(alone_pcts, key=lambda p: p[1], default=(float("nan"), float("nan")))
    print(f"events: {EVENTS}, partitions: {PARTITIONS}, wells: {WELLS}")
    print(f"bare aiokafka consumer (json.loads):  {max(base):,.0f} events/s  runs {[round(b) for b in base]}"
          f"  CPU µs/event {_runs(base_cpu)}")
    print(f"EngineWorker, 1 worker:               {max(one):,.0f} events/s  runs {[round(b) for b in one]}"
          f"  CPU µs/event {_runs(one_cpu)}")
    print(f"EngineWorker, 2 workers (one group):  {max(two):,.0f} events/s  runs {[round(b) for b in two]}"
          f"  CPU µs/event (both) {_runs(two_cpu)}")
    print(f"pipeline at {RATE} readings/s (achieved {achieved:,.0f}/s, {sent} sent, "
          f"{len(latencies)} alarms): reading→alarm p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    print(f"worker alone (twin events produced at {RATE}/s straight to twin.events): "
          f"reading→alarm p50 {w50:.1f} ms, p99 {w99:.1f} ms")
    print(f"latency rounds (p50/p99 ms): pipeline {_rounds(whole_pcts)}, worker alone {_rounds(alone_pcts)}")
    print(json.dumps({"bench": "pipeline", "ours_per_s": round(max(one)), "baseline_per_s": round(max(base)),
                      "ratio": round(max(one) / max(base), 3) if max(base) else None,
                      "two_workers_per_s": round(max(two)),
                      "cpu_us_per_event": min(one_cpu, default=None),
                      "baseline_cpu_us_per_event": min(base_cpu, default=None),
                      "rate": RATE, "achieved_rate": round(achieved), "alarms": len(latencies),
                      "p50_ms": round(p50, 1), "p99_ms": round(p99, 1),
                      "worker_only_p50_ms": round(w50, 1), "worker_only_p99_ms": round(w99, 1)}))


if __name__ == "__main__":
    asyncio.run(main())
