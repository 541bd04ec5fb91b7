"""The state of the embedded twin store: records, policies, locks, lifecycle and views of things."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Collection
from typing import Any, Self

from centinela.clock import SystemClock
from centinela.errors import TwinError
from centinela.ports import Clock
from centinela.twin.commands import ThingRecord, thing_view
from centinela.twin.errors import policy_not_found
from centinela.twin.events import EventHub
from centinela.twin.ids import namespace_of
from centinela.twin.lifecycle import AsyncCloseable
from centinela.twin.persistence import MemoryPersistence, TwinPersistence, open_persistence
from centinela.twin.pointer import copy_json
from centinela.twin.policies import PolicyBook

__all__ = ["TwinState"]

JSON = Any


class TwinState(AsyncCloseable):
    """What `EmbeddedTwinStore` holds, and its lifecycle.

    Every thing's record (a deleted thing keeps its revision), the policies, a lock per thing,
    the event hub, and the persistence they are loaded from.
    """

    def __init__(
        self,
        persistence: TwinPersistence | None = None,
        *,
        clock: Clock | None = None,
        queue_size: int = 1000,
        page_size: int = 200,
        default_namespace: str = "centinela",
    ) -> None:
        self.persistence = persistence if persistence is not None else MemoryPersistence()
        self.clock = clock or SystemClock()
        self.page_size = page_size
        """How many things the port's `search` reads per page while it pages through results."""
        self.default_namespace = default_namespace
        self._hub = EventHub(queue_size)
        self._records: dict[str, ThingRecord] = {}
        self._book = PolicyBook()
        self._sorted_ids: list[str] | None = None
        self._id_prefix = f"centinela-{uuid.uuid4().hex[:12]}"
        self._writes = 0
        self._locks: dict[str, asyncio.Lock] = {}
        self._opened = False
        self._closed = False

    @classmethod
    def from_url(cls, url: str | None, **kwargs: Any) -> Self:
        """A store over `memory://` or `sqlite:///PATH` (open it with `async with` or `open()`)."""
        return cls(open_persistence(url), **kwargs)

    # ------------------------------------------------------------------ lifecycle

    async def open(self) -> Self:
        """Load the persisted things and policies (idempotent)."""
        if self._closed:
            raise TwinError(503, "things:thing.unavailable", "The embedded twin store is closed.")
        if not self._opened:
            things, policies = await self.persistence.load()
            self._records = {r.thing_id: r for r in things}
            self._sorted_ids = None
            self._book.load(policies)
            self._opened = True
        return self

    async def flush(self) -> None:
        """Return once every change so far is durable (a write-behind persistence commits now)."""
        if self._opened and not self._closed:
            await self.persistence.flush()

    async def aclose(self) -> None:
        for sub in list(self._hub._subs):
            await sub.aclose()
        if not self._closed:
            self._closed = True
            await self.persistence.aclose()

    async def __aenter__(self) -> Self:
        return await self.open()

    # ------------------------------------------------------------------ helpers

    def _lock(self, thing_id: str) -> asyncio.Lock:
        lock = self._locks.get(thing_id)
        if lock is None:
            lock = self._locks[thing_id] = asyncio.Lock()
        return lock

    @staticmethod
    def _scoped(thing_id: str, namespaces: Collection[str] | None) -> bool:
        return namespaces is None or namespace_of(thing_id) in namespaces

    def _view(self, record: ThingRecord, thing: dict[str, JSON] | None = None) -> dict[str, JSON]:
        """The thing with the members only a field selector shows (`_revision`, `_modified`, ...)."""
        policy_id = (thing if thing is not None else record.thing or {}).get("policyId", "")
        return thing_view(record, thing, self._book.get(str(policy_id)))

    def get_policy(self, policy_id: str) -> JSON:
        """The stored policy (404 `policies:policy.notfound` when there is none)."""
        policy = self._book.get(policy_id)
        if policy is None:
            raise policy_not_found(policy_id)
        return copy_json(policy)

    def revision(self, thing_id: str) -> int | None:
        """The thing's current revision, or `None` when it does not exist."""
        record = self._records.get(thing_id)
        return record.revision if record is not None and record.thing is not None else None

    def __len__(self) -> int:
        return sum(1 for r in self._records.values() if r.thing is not None)

    def live_records(self, namespaces: Collection[str] | None = None) -> list[ThingRecord]:
        """The records of every existing thing in `namespaces`, sorted by thing id."""
        if self._sorted_ids is None:
            self._sorted_ids = sorted(t for t, r in self._records.items() if r.thing is not None)
        records = self._records
        return [records[t] for t in self._sorted_ids if namespaces is None or namespace_of(t) in namespaces]

    def view_of(self, record: ThingRecord, specials: Collection[str] | None = None) -> dict[str, JSON]:
        """A thing as RQL and field selectors see it, with the `specials` (`_revision`, ...) asked for.

        With no specials this is the stored dict itself: read it, never change it.
        """
        if specials is not None and not specials and record.thing is not None:
            return record.thing
        policy = self._book.get(str((record.thing or {}).get("policyId", "")))
        return thing_view(record, None, policy, only=specials)

    def things(self, namespaces: Collection[str] | None = None) -> list[dict[str, JSON]]:
        """Views (with `_revision` etc.) of every live thing in `namespaces`, sorted by id."""
        return [self.view_of(r) for r in self.live_records(namespaces)]

    @property
    def hub(self) -> EventHub:
        return self._hub
