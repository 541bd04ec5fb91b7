"""Test support for the adapter integration tests: an embedded twin store seeded with the demo things."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any, Self

from centinela.adapters.wellpad import WellPad
from centinela.ports import ThingEvent
from centinela.twin.store import EmbeddedTwinStore


class WatchedTwins:
    """An `EmbeddedTwinStore` plus a subscription that keeps every event and the latest things.

    `wait_for(predicate)` awaits twin events (never sleeps) until `predicate()` holds.
    """

    def __init__(self, things: Iterable[str] = ()) -> None:
        self.store = EmbeddedTwinStore()
        self.events: list[ThingEvent] = []
        self.things: dict[str, Any] = {}
        self._seed = list(things)
        self._changed = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        await self.store.open()
        templates = WellPad.things()
        for thing in self._seed:
            await self.store.create(thing, templates.get(thing, {}))
        subscription = self.store.subscribe()

        async def pump() -> None:
            async with subscription:
                async for event in subscription:
                    self.events.append(event)
                    self.things[event.thing_id] = await self.store.retrieve(event.thing_id)
                    async with self._changed:
                        self._changed.notify_all()

        self._task = asyncio.create_task(pump())
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.store.aclose()

    def prop(self, thing: str, feature: str, prop: str) -> Any:
        features = self.things.get(thing, {}).get("features", {})
        return features.get(feature, {}).get("properties", {}).get(prop)

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(predicate), timeout)

    def metadata(self, pointer: str) -> list[dict[str, Any]]:
        """The `put-metadata` entries for a property pointer (relative to `/features`), in order."""
        out = []
        for event in self.events:
            for entry in json.loads(event.headers.get("put-metadata", "[]")):
                if entry["key"] == pointer:
                    out.append(entry["value"])
        return out

    def value_events(self, feature: str) -> list[ThingEvent]:
        return [e for e in self.events if isinstance(e.value, dict) and feature in e.value]
