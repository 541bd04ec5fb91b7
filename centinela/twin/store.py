"""`EmbeddedTwinStore`: Ditto's twin semantics in process, over memory or SQLite, with subscriptions."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Collection, Mapping
from typing import Any

from centinela.ports import ThingEvent
from centinela.twin.commands import (
    Change,
    ThingRecord,
    apply_create,
    apply_delete,
    apply_merge,
    apply_modify,
    read,
)
from centinela.twin.conditions import PATCH_CONDITIONS, apply_patch_conditions, check_preconditions, etag_of
from centinela.twin.errors import policy_not_found, thing_not_creatable, thing_not_found
from centinela.twin.events import EventSubscription, View, event_selector
from centinela.twin.ids import validate_thing_id
from centinela.twin.metadata import with_metadata
from centinela.twin.model import parse_fields, select_fields
from centinela.twin.persistence import (
    MemoryPersistence,
    SqlitePersistence,
    to_the_end,
)
from centinela.twin.pointer import (
    MISSING,
    Pointer,
    checked_json,
    checked_patch,
    copy_json,
    format_pointer,
    get_at,
    parse_pointer,
)
from centinela.twin.policies import DEFAULT_SUBJECT, PolicyRecord
from centinela.twin.protocol import Envelope
from centinela.twin.results import ReadResult, WriteResult
from centinela.twin.state import TwinState

__all__ = ["EmbeddedTwinStore", "ReadResult", "WriteResult"]

JSON = Any
Headers = Mapping[str, str]


def _header(headers: Headers, name: str) -> str | None:
    """A header by its lower-case name, whatever the case it was sent in."""
    value = headers.get(name)
    if value is None:
        for key, candidate in headers.items():
            if key.lower() == name:
                return candidate
    return value


def _lowered(headers: Headers) -> Mapping[str, str]:
    """The headers keyed by lower-case name (a header sent in lower case wins over other spellings)."""
    if all(key.islower() for key in headers):
        return headers
    low: dict[str, str] = {}
    for key, value in headers.items():
        name = key.lower()
        if name not in low or key == name:
            low[name] = value
    return low


class EmbeddedTwinStore(TwinState):
    """The `TwinStore` port implemented in process, with the lower-level API the twin service uses.

    Every change takes the thing's lock, is persisted before it becomes visible, increments the
    thing's revision by one and produces one event, delivered to subscriptions in revision order
    (see `centinela.twin.events` for the backpressure policy). Nothing partially applies: a
    command either changes the thing as a whole or raises a `TwinError` and changes nothing.
    `namespaces`, where accepted, limits what the caller may see and touch: things outside are
    reported as not found.
    """

    # ------------------------------------------------------------------ writes

    async def _write(
        self,
        thing_id: str,
        parts: Pointer,
        op: Callable[[ThingRecord | None, float], Change],
        *,
        headers: Headers | None,
        namespaces: Collection[str] | None,
        if_match: str | None = None,
        if_none_match: str | None = None,
        condition: str | None = None,
        source: JSON = None,
    ) -> WriteResult:
        if not self._opened or self._closed:
            await self.open()  # never write over persisted revisions unread; refused once closed
        records = self._records
        if thing_id not in records:
            validate_thing_id(thing_id)
        if headers:
            # Ditto headers may carry the preconditions too (explicit arguments win).
            low = _lowered(headers)
            if_match = if_match if if_match is not None else low.get("if-match")
            if_none_match = if_none_match if if_none_match is not None else low.get("if-none-match")
            condition = condition if condition is not None else low.get("condition")
            if "correlation-id" in low:
                headers = dict(headers)  # the event keeps its own copy
            else:
                self._writes += 1
                headers = {**headers, "correlation-id": f"{self._id_prefix}-{self._writes}"}
        else:
            # Ditto gives every command a correlation id; its event carries it.
            self._writes += 1
            headers = {"correlation-id": f"{self._id_prefix}-{self._writes}"}
        hub = self._hub
        reservation = hub.reserve_now()
        if reservation is None:
            reservation = await hub.reserve()
        lock = self._lock(thing_id)
        try:
            await lock.acquire()
            try:
                record = records.get(thing_id)
                if namespaces is not None and not self._scoped(thing_id, namespaces):
                    if record is not None and record.thing is not None:
                        raise thing_not_found(thing_id)
                    if parts:
                        raise thing_not_found(thing_id)
                    raise thing_not_creatable(thing_id, "its namespace is not one the requester may use.")
                if if_match is not None or if_none_match is not None or condition is not None:
                    check_preconditions(
                        record,
                        parts,
                        if_match=if_match,
                        if_none_match=if_none_match,
                        condition=condition,
                        reading=False,
                        view=self._view,
                    )
                now = self.clock.now()
                change = with_metadata(op(record, now), headers)
                new = change.record
                if change.noop:
                    current = get_at(new.thing, change.path) if new.thing is not None else MISSING
                    return WriteResult(new.revision, False, None, change.path, current, None)
                created_or_deleted = (record is None or record.thing is None) != (new.thing is None)
                policies = self._new_policies(record, new, headers, source) if created_or_deleted else []
                cancelled = False
                persistence = self.persistence
                if type(persistence) is MemoryPersistence:
                    persistence.keep(new, policies)  # never suspends: cannot be cut short
                elif isinstance(persistence, SqlitePersistence):
                    cancelled = await to_the_end(persistence.submit([new], policies))
                else:
                    cancelled = await to_the_end(persistence.save([new], policies))
                if created_or_deleted:
                    self._sorted_ids = None  # a thing came or went
                records[thing_id] = new
                if policies:
                    self._book.commit(policies)
                # A merge's value is the store's own copy of the patch, which the merged thing never
                # shares (`apply_merge` builds fresh objects): the event may carry it as it is.
                value = change.value if change.private else copy_json(change.value)
                event = ThingEvent(
                    thing_id, change.action, format_pointer(change.path), value, new.revision, now, headers
                )
                hub.deliver(reservation, event, self._lazy_view(record, new))
                if cancelled:
                    # The change is durable and visible; only its caller stopped waiting.
                    raise asyncio.CancelledError
            finally:
                lock.release()
        finally:
            hub.release(reservation)
        current = get_at(new.thing, change.path) if new.thing is not None else MISSING
        if change.created:
            return WriteResult(new.revision, True, copy_json(change.value), change.path, current, event)
        return WriteResult(new.revision, False, None, change.path, current, event)

    def _lazy_view(self, before: ThingRecord | None, new: ThingRecord) -> View:
        """The thing after a change as filters and `extraFields` see it, built on first use only."""
        prior = before.thing if before is not None else None
        thing = new.thing if new.thing is not None else prior
        return View(thing, lambda: self._view(new, thing))

    def _new_policies(
        self, before: ThingRecord | None, after: ThingRecord, headers: Headers | None, source: JSON
    ) -> list[PolicyRecord]:
        if after.thing is None or (before is not None and before.thing is not None):
            return []
        policy_id = str(after.thing.get("policyId", after.thing_id))
        subject = (headers or {}).get("ditto-originator") or DEFAULT_SUBJECT
        return self._book.for_new_thing(policy_id, subject, source, self._thing_policy)

    def _thing_policy(self, thing_id: str) -> str | None:
        record = self._records.get(thing_id)
        if record is None or record.thing is None:
            return None
        return str(record.thing.get("policyId", thing_id))

    async def put_policy(
        self, policy_id: str, path: str, value: JSON, *, namespaces: Collection[str] | None = None
    ) -> bool:
        """Create or replace a policy (or a part of it, by pointer); `True` when it was created."""
        validate_thing_id(policy_id)
        if not self._scoped(policy_id, namespaces):
            raise policy_not_found(policy_id)
        return await self._book.put(self.persistence, policy_id, path, value)

    async def remove_policy(
        self, policy_id: str, path: str = "/", *, namespaces: Collection[str] | None = None
    ) -> None:
        """Delete a policy (or a part of it); things keep their `policyId`."""
        if not self._scoped(policy_id, namespaces):
            raise policy_not_found(policy_id)
        await self._book.remove(self.persistence, policy_id, path)

    async def put(
        self,
        thing_id: str,
        path: str,
        value: JSON,
        *,
        headers: Headers | None = None,
        namespaces: Collection[str] | None = None,
        if_match: str | None = None,
        if_none_match: str | None = None,
        condition: str | None = None,
    ) -> WriteResult:
        """Ditto's `modify` at `path` (creating the thing at `/`): 201 when new, 204 otherwise."""
        parts = parse_pointer(path)
        value = checked_json(value)
        return await self._write(
            thing_id,
            parts,
            lambda record, now: apply_modify(record, thing_id, parts, value, now),
            headers=headers,
            namespaces=namespaces,
            if_match=if_match,
            if_none_match=if_none_match,
            condition=condition,
            source=value if not parts else None,
        )

    async def create(
        self,
        thing_id: str | None,
        value: JSON,
        *,
        headers: Headers | None = None,
        namespaces: Collection[str] | None = None,
    ) -> WriteResult:
        """Ditto's `create`: a new thing (409 when it exists); `None` generates `<namespace>:<uuid>`."""
        if thing_id is None:
            body_id = value.get("thingId") if isinstance(value, dict) else None
            if isinstance(body_id, str):
                thing_id = body_id
            else:
                namespace = self.default_namespace
                if namespaces is not None and len(namespaces) == 1:
                    namespace = next(iter(namespaces))
                thing_id = f"{namespace}:{uuid.uuid4()}"
        value = checked_json(value)
        tid = thing_id
        return await self._write(
            tid,
            (),
            lambda record, now: apply_create(record, tid, value, now),
            headers=headers,
            namespaces=namespaces,
            source=value,
        )

    async def patch(
        self,
        thing_id: str,
        path: str,
        value: JSON,
        *,
        headers: Headers | None = None,
        namespaces: Collection[str] | None = None,
        if_match: str | None = None,
        if_none_match: str | None = None,
        condition: str | None = None,
    ) -> WriteResult:
        """Ditto's `merge` (RFC 7396 at `path`, `null` deletes): 204, or 201 when it created the thing."""
        parts = parse_pointer(path)
        value, plain = checked_patch(value)
        return await self._write(
            thing_id,
            parts,
            lambda record, now: self._conditional_merge(record, thing_id, parts, value, now, headers, plain),
            headers=headers,
            namespaces=namespaces,
            if_match=if_match,
            if_none_match=if_none_match,
            condition=condition,
            source=value if not parts else None,
        )

    def _conditional_merge(
        self,
        record: ThingRecord | None,
        thing_id: str,
        parts: Pointer,
        patch: JSON,
        now: float,
        headers: Headers | None,
        plain: bool = False,
    ) -> Change:
        header = _lowered(headers).get(PATCH_CONDITIONS) if headers else None
        if header is not None and record is not None and record.thing is not None:
            patch, anything = apply_patch_conditions(patch, header, self._view(record))
            if not anything:
                return Change(record, False, "merged", parts, {}, noop=True)
        return apply_merge(record, thing_id, parts, patch, now, keys_checked=plain)

    async def remove(
        self,
        thing_id: str,
        path: str = "/",
        *,
        headers: Headers | None = None,
        namespaces: Collection[str] | None = None,
        if_match: str | None = None,
        if_none_match: str | None = None,
        condition: str | None = None,
    ) -> WriteResult:
        """Ditto's `delete` at `path` (the whole thing for `/`): 204, or 404 when it is not there."""
        parts = parse_pointer(path)
        return await self._write(
            thing_id,
            parts,
            lambda record, now: apply_delete(record, thing_id, parts, now),
            headers=headers,
            namespaces=namespaces,
            if_match=if_match,
            if_none_match=if_none_match,
            condition=condition,
        )

    # ------------------------------------------------------------------ reads

    async def get(
        self,
        thing_id: str,
        path: str = "/",
        *,
        fields: str | None = None,
        namespaces: Collection[str] | None = None,
        if_match: str | None = None,
        if_none_match: str | None = None,
        condition: str | None = None,
    ) -> ReadResult:
        """Ditto's `retrieve` with its ETag; 304 (`TwinError`) when `if_none_match` matches."""
        if not self._opened or self._closed:
            await self.open()
        validate_thing_id(thing_id)
        parts = parse_pointer(path)
        selectors = parse_fields(fields) if fields is not None else None
        record = self._records.get(thing_id)
        if not self._scoped(thing_id, namespaces):
            raise thing_not_found(thing_id)
        value = read(record, thing_id, parts)
        assert record is not None  # noqa: S101 - read() raised otherwise
        check_preconditions(
            record,
            parts,
            if_match=if_match,
            if_none_match=if_none_match,
            condition=condition,
            reading=True,
            view=self._view,
        )
        etag = etag_of(parts, record.revision, value)
        if selectors is not None:
            source = self._view(record) if not parts else value
            value = select_fields(source, selectors)
        return ReadResult(copy_json(value), record.revision, etag)

    # ------------------------------------------------------------------ TwinStore port

    async def retrieve(self, thing_id: str, path: str = "/", *, fields: str | None = None) -> JSON:
        return (await self.get(thing_id, path, fields=fields)).value

    async def modify(self, thing_id: str, path: str, value: JSON, *, headers: Headers | None = None) -> int:
        return (await self.put(thing_id, path, value, headers=headers)).revision

    async def merge(self, thing_id: str, path: str, value: JSON, *, headers: Headers | None = None) -> int:
        return (await self.patch(thing_id, path, value, headers=headers)).revision

    async def delete(self, thing_id: str, path: str = "/", *, headers: Headers | None = None) -> None:
        await self.remove(thing_id, path, headers=headers)

    async def search_page(
        self,
        *,
        filter: str | None = None,  # noqa: A002 - Ditto's parameter name
        namespaces: Collection[str] | None = None,
        fields: str | None = None,
        option: str | None = None,
        sort: str | None = None,
        size: int | None = None,
        cursor: str | None = None,
    ) -> tuple[list[JSON], str | None]:
        """One page of a search and the next page's cursor (see `centinela.twin.search.search_page`)."""
        from centinela.twin.search import search_page

        return search_page(
            self,
            filter=filter,
            namespaces=namespaces,
            fields=fields,
            option=option,
            sort=sort,
            size=size,
            cursor=cursor,
        )

    async def count(
        self,
        *,
        filter: str | None = None,  # noqa: A002 - Ditto's parameter name
        namespaces: Collection[str] | None = None,
    ) -> int:
        """How many things match the RQL `filter` in `namespaces`."""
        from centinela.twin.search import count

        return count(self, filter=filter, namespaces=namespaces)

    async def search(
        self,
        *,
        filter: str | None = None,  # noqa: A002 - the port's name
        namespaces: Collection[str] | None = None,
        fields: str | None = None,
    ) -> AsyncIterator[JSON]:
        from centinela.twin.search import search_all

        async for item in search_all(self, filter=filter, namespaces=namespaces, fields=fields):
            yield item

    def subscribe(
        self,
        *,
        namespaces: Collection[str] | None = None,
        filter: str | None = None,  # noqa: A002 - the port's name
        extra_fields: str | None = None,
        queue_size: int | None = None,
    ) -> EventSubscription:
        """Receive the later events of things in `namespaces` that match the RQL `filter`.

        The filter applies to the thing after the change (before it, for a deleted thing);
        `extra_fields` selects parts of that thing into `ThingEvent.extra`.
        """
        accept = event_selector(namespaces=namespaces, filter=filter, extra_fields=extra_fields)
        return self._hub.subscribe(accept, queue_size=queue_size)

    async def apply(self, command: Envelope, *, namespaces: Collection[str] | None = None) -> Envelope:
        """Apply a Ditto Protocol command; the response envelope, or an error envelope on failure."""
        from centinela.twin.dispatch import apply_command

        return await apply_command(self, command, namespaces=namespaces)
