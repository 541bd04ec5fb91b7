"""Checkpoints of engine state through a `StateStore`: one JSON document per thing, plus a cursor."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from centinela.errors import StateError
from centinela.ports import StateStore
from centinela.rules.engine import Engine

__all__ = ["CURSOR_KEY", "load_snapshot", "save_snapshot"]

PREFIX = "engine/thing/"
CURSOR_KEY = "engine/cursor"


async def save_snapshot(engine: Engine, store: StateStore, *, cursor: Any = None) -> int:
    """Save every thing touched since the last checkpoint (and the source cursor) atomically.

    Call it after the sinks have flushed, so what is saved never runs ahead of what was emitted.
    Returns the number of things saved.
    """
    items: dict[str, bytes | None] = {}
    for thing_id in sorted(engine.touched):
        contexts = engine.contexts.get(thing_id)
        key = PREFIX + thing_id
        items[key] = None if not contexts else json.dumps([c.to_json() for c in contexts]).encode()
    if cursor is not None:
        items[CURSOR_KEY] = json.dumps(cursor).encode()
    if items:
        await store.save(items)
    engine.touched.clear()
    return len(items) - (cursor is not None)


async def load_snapshot(engine: Engine, store: StateStore) -> Any:
    """Restore every saved thing into `engine`; return the saved cursor (None if there is none)."""
    saved = await store.load_prefix(PREFIX)
    by_thing: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for key, blob in saved.items():
        try:
            by_thing[key[len(PREFIX) :]].extend(json.loads(blob))
        except (ValueError, TypeError) as exc:
            msg = f"The engine checkpoint {key!r} cannot be decoded: {exc}."
            raise StateError(msg) from exc
    for thing_id, states in by_thing.items():
        engine.restore(thing_id, states)
    engine.touched.clear()
    cursor = await store.load(CURSOR_KEY)
    return None if cursor is None else json.loads(cursor)
