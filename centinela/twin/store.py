"""`EmbeddedTwinStore`: Ditto's twin semantics in process, over memory or SQLite, with subscriptions."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Collection, Mapping
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Any, Self

from centinela.clock import SystemClock
from centinela.ports import Clock, ThingEvent
from centinela.twin.commands import (
    Change,
    ThingRecord,
    apply_create,
    apply_delete,
    apply_merge,
    apply_modify,
    read,
)
from centinela.twin.conditions import check_preconditions, etag_of
from centinela.twin.errors import policy_not_found, thing_not_creatable, thing_not_found
from centinela.twin.events import EventHub, EventSubscription
from centinela.twin.ids import namespace_of, validate_thing_id
from centinela.twin.model import parse_fields, select_fields, to_iso
from centinela.twin.persistence import MemoryPersistence, PolicyRecord, TwinPersistence, open_persistence
from centinela.twin.pointer import MISSING, Pointer, copy_json, format_pointer, get_at, parse_pointer
from centinela.twin.policies import DEFAULT_SUBJECT, default_policy, parse_policy_pointer, validate_policy
from centinela.twin.protocol import Envelope

__all__ = ["EmbeddedTwinStore", "ReadResult", "WriteResult"]

JSON = Any
Headers = Mapping[str, str]


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What a change did: HTTP 201 (`created`, with `value`) or 204, the new revision and ETag."""

    revision: int
    created: bool
    value: JSON
    etag: str | None
    event: ThingEvent

    @property
    def status(self) -> int:
        return 201 if self.created else 204


@dataclass(frozen=True, slots=True)
class ReadResult:
    """A retrieved value with the thing's revision and the resource's ETag."""

    value: JSON
    revision: int
    etag: str


class EmbeddedTwinStore:
    """The `TwinStore` port implemented in process, with the lower-level API the twin service uses.

    Every change takes the thing's lock, is persisted before it becomes visible, increments the
    thing's revision by one and produces one event, delivered to subscriptions in revision order
    (see `centinela.twin.events` for the backpressure policy). Nothing partially applies: a
    command either changes the thing as a whole or raises a `TwinError` and changes nothing.
    `namespaces`, where accepted, limits what the caller may see and touch: things outside are
    reported as not found.
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
        self.default_namespace = default_namespace
        self._hub = EventHub(queue_size)
        self._records: dict[str, ThingRecord] = {}
        self._policies: dict[str, dict[str, JSON]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._opened = False

    @classmethod
    def from_url(cls, url: str | None, **kwargs: Any) -> EmbeddedTwinStore:
        """A store over `memory://` or `sqlite:///PATH` (open it with `async with` or `open()`)."""
        return cls(open_persistence(url), **kwargs)

    # ------------------------------------------------------------------ lifecycle

    async def open(self) -> Self:
        """Load the persisted things and policies (idempotent)."""
        if not self._opened:
            things, policies = await self.persistence.load()
            self._records = {r.thing_id: r for r in things}
            self._policies = {p.policy_id: p.policy for p in policies if p.policy is not None}
            self._opened = True
        return self

    async def aclose(self) -> None:
        for sub in list(self._hub._subs):
            await sub.aclose()
        await self.persistence.aclose()
        self._opened = False

    async def __aenter__(self) -> Self:
        return await self.open()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

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
        view = dict(thing if thing is not None else record.thing or {})
        view["_namespace"] = namespace_of(record.thing_id)
        view["_revision"] = record.revision
        view["_created"] = to_iso(record.created)
        view["_modified"] = to_iso(record.modified)
        if record.metadata is not None:
            view["_metadata"] = record.metadata
        policy = self._policies.get(str(view.get("policyId", "")))
        if policy is not None:
            view["_policy"] = policy
        return view

    def _check_conditions(
        self,
        record: ThingRecord | None,
        parts: Pointer,
        *,
        if_match: str | None,
        if_none_match: str | None,
        condition: str | None,
        reading: bool,
    ) -> None:
        check_preconditions(
            record,
            parts,
            if_match=if_match,
            if_none_match=if_none_match,
            condition=condition,
            reading=reading,
            view=self._view,
        )

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
        validate_thing_id(thing_id)
        if headers is None or "correlation-id" not in headers:
            # Ditto gives every command a correlation id; its event carries it.
            headers = {**(headers or {}), "correlation-id": str(uuid.uuid4())}
        reservation = await self._hub.reserve()
        try:
            async with self._lock(thing_id):
                record = self._records.get(thing_id)
                if not self._scoped(thing_id, namespaces):
                    if record is not None and record.thing is not None:
                        raise thing_not_found(thing_id)
                    if parts:
                        raise thing_not_found(thing_id)
                    raise thing_not_creatable(thing_id, "its namespace is not one the requester may use.")
                self._check_conditions(
                    record,
                    parts,
                    if_match=if_match,
                    if_none_match=if_none_match,
                    condition=condition,
                    reading=False,
                )
                now = self.clock.now()
                change = op(record, now)
                new = change.record
                policies = self._new_policies(record, new, headers, source)
                await self.persistence.save([new], policies)
                self._records[thing_id] = new
                for policy in policies:
                    if policy.policy is not None:
                        self._policies[policy.policy_id] = policy.policy
                event = ThingEvent(
                    thing_id=thing_id,
                    action=change.action,
                    path=format_pointer(change.path),
                    value=copy_json(change.value),
                    revision=new.revision,
                    timestamp=now,
                    headers=dict(headers or {}),
                )
                before = record.thing if record is not None else None
                cache: list[dict[str, JSON]] = []

                def view() -> dict[str, JSON] | None:
                    if not cache:
                        cache.append(self._view(new, new.thing if new.thing is not None else before))
                    return cache[0]

                self._hub.deliver(reservation, event, view)
        finally:
            self._hub.release(reservation)
        etag = None
        value = change.value if change.created else None
        if new.thing is not None:
            at = get_at(new.thing, change.path)
            if at is not MISSING:
                etag = etag_of(change.path, new.revision, at)
        return WriteResult(new.revision, change.created, copy_json(value), etag, event)

    def _new_policies(
        self, before: ThingRecord | None, after: ThingRecord, headers: Headers | None, source: JSON
    ) -> list[PolicyRecord]:
        """The policy a newly created thing brings: inline `_policy`, `_copyPolicyFrom` or the default."""
        if after.thing is None or (before is not None and before.thing is not None):
            return []
        policy_id = str(after.thing.get("policyId", after.thing_id))
        source = source if isinstance(source, dict) else {}
        if isinstance(source.get("_policy"), dict):
            return [PolicyRecord(policy_id, validate_policy(policy_id, source["_policy"]))]
        copy_from = source.get("_copyPolicyFrom")
        if isinstance(copy_from, str):
            template = self._policies.get(self._resolve_policy_ref(copy_from))
            if template is None:
                raise policy_not_found(copy_from)
            return [PolicyRecord(policy_id, {**copy_json(template), "policyId": policy_id})]
        if policy_id in self._policies:
            return []
        subject = (headers or {}).get("ditto-originator") or DEFAULT_SUBJECT
        return [PolicyRecord(policy_id, default_policy(policy_id, subject))]

    def _resolve_policy_ref(self, ref: str) -> str:
        """`{{ ref:things/<thingId>/policyId }}` names the policy of another thing; else a policy id."""
        text = ref.strip()
        if text.startswith("{{") and text.endswith("}}"):
            inner = text[2:-2].strip()
            if inner.startswith("ref:things/") and inner.endswith("/policyId"):
                record = self._records.get(inner[len("ref:things/") : -len("/policyId")])
                if record is not None and record.thing is not None:
                    return str(record.thing.get("policyId", record.thing_id))
        return text

    async def put_policy(
        self, policy_id: str, path: str, value: JSON, *, namespaces: Collection[str] | None = None
    ) -> bool:
        """Create or replace a policy (or a part of it, by pointer); `True` when it was created."""
        from centinela.twin.pointer import set_at

        validate_thing_id(policy_id)
        if not self._scoped(policy_id, namespaces):
            raise policy_not_found(policy_id)
        parts = parse_policy_pointer(path)
        current = self._policies.get(policy_id)
        if parts:
            if current is None:
                raise policy_not_found(policy_id)
            created = get_at(current, parts) is MISSING
            policy = validate_policy(policy_id, set_at(current, parts, copy_json(value)))
        else:
            created = current is None
            policy = validate_policy(policy_id, copy_json(value))
        await self.persistence.save([], [PolicyRecord(policy_id, policy)])
        self._policies[policy_id] = policy
        return created

    async def remove_policy(
        self, policy_id: str, path: str = "/", *, namespaces: Collection[str] | None = None
    ) -> None:
        """Delete a policy (or a part of it); things keep their `policyId`."""
        from centinela.twin.pointer import delete_at

        current = self._policies.get(policy_id)
        if current is None or not self._scoped(policy_id, namespaces):
            raise policy_not_found(policy_id)
        parts = parse_policy_pointer(path)
        if parts and get_at(current, parts) is MISSING:
            raise policy_not_found(policy_id)
        policy = delete_at(current, parts) if parts else None
        await self.persistence.save([], [PolicyRecord(policy_id, policy)])
        if policy is None:
            del self._policies[policy_id]
        else:
            self._policies[policy_id] = policy

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
        value = copy_json(value)
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
        value = copy_json(value)
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
        """Ditto's `merge` (RFC 7396 at `path`, `null` deletes): always 204."""
        parts = parse_pointer(path)
        value = copy_json(value)
        return await self._write(
            thing_id,
            parts,
            lambda record, now: apply_merge(record, thing_id, parts, value, now),
            headers=headers,
            namespaces=namespaces,
            if_match=if_match,
            if_none_match=if_none_match,
            condition=condition,
        )

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
        validate_thing_id(thing_id)
        parts = parse_pointer(path)
        selectors = parse_fields(fields) if fields is not None else None
        record = self._records.get(thing_id)
        if not self._scoped(thing_id, namespaces):
            raise thing_not_found(thing_id)
        value = read(record, thing_id, parts)
        assert record is not None  # noqa: S101 - read() raised otherwise
        self._check_conditions(
            record,
            parts,
            if_match=if_match,
            if_none_match=if_none_match,
            condition=condition,
            reading=True,
        )
        etag = etag_of(parts, record.revision, value)
        if selectors is not None:
            source = self._view(record) if not parts else value
            value = select_fields(source, selectors)
        return ReadResult(copy_json(value), record.revision, etag)

    def get_policy(self, policy_id: str) -> JSON:
        """The stored policy (404 `policies:policy.notfound` when there is none)."""
        policy = self._policies.get(policy_id)
        if policy is None:
            raise policy_not_found(policy_id)
        return copy_json(policy)

    def revision(self, thing_id: str) -> int | None:
        """The thing's current revision, or `None` when it does not exist."""
        record = self._records.get(thing_id)
        return record.revision if record is not None and record.thing is not None else None

    def __len__(self) -> int:
        return sum(1 for r in self._records.values() if r.thing is not None)

    # ------------------------------------------------------------------ TwinStore port

    async def retrieve(self, thing_id: str, path: str = "/", *, fields: str | None = None) -> JSON:
        return (await self.get(thing_id, path, fields=fields)).value

    async def modify(self, thing_id: str, path: str, value: JSON, *, headers: Headers | None = None) -> int:
        return (await self.put(thing_id, path, value, headers=headers)).revision

    async def merge(self, thing_id: str, path: str, value: JSON, *, headers: Headers | None = None) -> int:
        return (await self.patch(thing_id, path, value, headers=headers)).revision

    async def delete(self, thing_id: str, path: str = "/", *, headers: Headers | None = None) -> None:
        await self.remove(thing_id, path, headers=headers)

    def things(self, namespaces: Collection[str] | None = None) -> list[dict[str, JSON]]:
        """Views (with `_revision` etc.) of every live thing in `namespaces`, sorted by id."""
        return [
            self._view(r)
            for tid, r in sorted(self._records.items())
            if r.thing is not None and self._scoped(tid, namespaces)
        ]

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
        # Kept as given: a caller's collection may match namespaces by pattern in `__contains__`.
        spaces = namespaces
        predicate = None
        if filter is not None:
            from centinela.twin.rql import compile_filter

            predicate = compile_filter(filter)
        selectors = parse_fields(extra_fields) if extra_fields is not None else None

        def accept(event: ThingEvent, view: Callable[[], dict[str, JSON] | None]) -> ThingEvent | None:
            if spaces is not None and namespace_of(event.thing_id) not in spaces:
                return None
            if predicate is not None:
                thing = view()
                if thing is None or not predicate(thing):
                    return None
            if selectors is not None:
                thing = view()
                extra = select_fields(thing, selectors) if thing is not None else {}
                return replace(event, extra=copy_json(extra))
            return event

        return self._hub.subscribe(accept, queue_size=queue_size)

    async def apply(self, command: Envelope, *, namespaces: Collection[str] | None = None) -> Envelope:
        """Apply a Ditto Protocol command; the response envelope, or an error envelope on failure."""
        from centinela.twin.dispatch import apply_command

        return await apply_command(self, command, namespaces=namespaces)

    @property
    def hub(self) -> EventHub:
        return self._hub
