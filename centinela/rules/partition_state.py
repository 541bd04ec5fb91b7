"""Engine checkpoints per Kafka partition: the things of one partition and the next offset, saved together.

Keys: `engine/<group>/<topic>/<partition>/thing/<thingId>` (a thing's contexts, JSON) and
`engine/<group>/<topic>/<partition>/offset` (the next offset to process). Both are written in one
`StateStore.save`, so a restored partition's state and offset always agree: records below the saved
offset are already in the state and are skipped when they are delivered again.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from centinela.errors import StateError
from centinela.ports import StateStore
from centinela.rules.engine import Engine

__all__ = ["partition_prefix", "restore_partition", "snapshot_items"]


def partition_prefix(group: str, topic: str, partition: int) -> str:
    """The state-store key prefix of one partition's checkpoint for a consumer group."""
    return f"engine/{group}/{topic}/{partition}/"


def snapshot_items(engine: Engine, prefix: str, next_offset: int | None) -> dict[str, bytes | None]:
    """The items to save for one partition: every thing touched since the last save, and the offset.

    Clears the engine's touched set; call it after the sinks have flushed.
    """
    items: dict[str, bytes | None] = {}
    for thing_id in sorted(engine.touched):
        contexts = engine.contexts.get(thing_id)
        key = prefix + "thing/" + thing_id
        items[key] = None if not contexts else json.dumps([c.to_json() for c in contexts]).encode()
    engine.touched.clear()
    if next_offset is not None:
        items[prefix + "offset"] = str(next_offset).encode()
    return items


async def restore_partition(engine: Engine, store: StateStore, prefix: str) -> int | None:
    """Load one partition's things into `engine`; return the saved next offset (None if never saved)."""
    saved = await store.load_prefix(prefix + "thing/")
    by_thing: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for key, blob in saved.items():
        try:
            by_thing[key[len(prefix) + len("thing/") :]].extend(json.loads(blob))
        except (ValueError, TypeError) as exc:
            msg = f"The engine checkpoint {key!r} cannot be decoded: {exc}."
            raise StateError(msg) from exc
    for thing_id, states in by_thing.items():
        engine.restore(thing_id, states)
    engine.touched.clear()
    raw = await store.load(prefix + "offset")
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError as exc:
        msg = f"The saved offset {prefix + 'offset'!r} is {raw!r}, not an integer."
        raise StateError(msg) from exc
