"""Shared by the benchmarks: where the servers are (`CENTINELA_*`, else `.services/env`) and baselines."""

from __future__ import annotations

import json
import os
import socket
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

from aiokafka import AIOKafkaConsumer

ROOT = Path(__file__).resolve().parent.parent
DEFAULTS = {
    "kafka": "kafka://127.0.0.1:59092",
    "postgres": "postgresql://centinela@127.0.0.1:55432/centinela",
    "redis": "redis://127.0.0.1:56379/0",
}


def service_url(name: str) -> str:
    var = f"CENTINELA_{name.upper()}"
    env_file = ROOT / ".services" / "env"
    values = dict(os.environ)
    if env_file.is_file():
        pairs = (ln.split("=", 1) for ln in env_file.read_text().splitlines() if "=" in ln)
        values = {**{k: v for k, v in pairs}, **{k: v for k, v in os.environ.items() if k == var}}
    url = values.get(var) or DEFAULTS[name]
    if urlsplit(url).scheme in {"memory", "sqlite"}:
        url = DEFAULTS[name]
    return url


def require(name: str, bench: str) -> str:
    """The service URL, or print a skip line (with the reason) and exit 0 when it cannot be reached."""
    url = service_url(name)
    host_port = urlsplit(url).netloc.rsplit("@", 1)[-1].split(",")[0]
    host, _, port = host_port.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=1.0):
            return url
    except OSError as exc:
        print(f"{name} at {url} is not reachable ({exc}); run `make services`.")
        print(json.dumps({"bench": bench, "skipped": f"{name} unavailable"}))
        sys.exit(0)


async def bare_consumer_rate(bootstrap: str, topic: str, events: int, max_records: int) -> float:
    """Baseline: a bare aiokafka consumer that JSON-decodes `events` records and commits per fetch."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"base-{uuid.uuid4().hex[:6]}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    await consumer.start()
    count, began = 0, None
    try:
        while count < events:
            batches = await consumer.getmany(timeout_ms=1000, max_records=max_records)
            for messages in batches.values():
                if began is None and messages:
                    began = time.perf_counter()
                for m in messages:
                    json.loads(m.value)
                count += len(messages)
            if batches:
                await consumer.commit()
    finally:
        await consumer.stop()
    assert began is not None
    return events / (time.perf_counter() - began)
