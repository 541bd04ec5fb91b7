"""Ditto's search protocol on a connection: subscribe/request/cancel in, created/next/complete/failed out."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from centinela.errors import TwinError
from centinela.twin.protocol import Criterion, Envelope, Topic, invalid_envelope

if TYPE_CHECKING:
    from centinela.twin.store import EmbeddedTwinStore

__all__ = ["SearchSessions"]

JSON = Any


@dataclass(slots=True)
class _Subscription:
    filter: str | None
    namespaces: Collection[str] | None
    fields: str | None
    options: str | None
    correlation_id: str | None
    cursor: str | None = None


class _Within(Collection[str]):
    """The requested namespaces that the connection's scope allows (the scope may match by pattern)."""

    def __init__(self, requested: list[str], scope: Collection[str]) -> None:
        self._names = [n for n in requested if n in scope]

    def __contains__(self, namespace: object) -> bool:
        return namespace in self._names

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


def _protocol_error(message: str) -> TwinError:
    return TwinError(400, "thing-search:subscription.protocol.error", message)


class SearchSessions:
    """The search subscriptions of one WebSocket connection, answered page by page on demand.

    `demand` counts pages, as in Ditto: each `request` for n sends up to n `next` messages of one
    page each (page size from `size(...)` in the options, 25 by default), then `complete` once the
    results are exhausted. Errors end the subscription with `failed`.
    """

    def __init__(self, store: EmbeddedTwinStore, *, namespaces: Collection[str] | None = None) -> None:
        self.store = store
        self.scope = namespaces
        self._subs: dict[str, _Subscription] = {}
        self._next_id = 0

    @property
    def open(self) -> int:
        return len(self._subs)

    def _message(self, action: str, value: JSON, correlation_id: str | None) -> Envelope:
        headers: dict[str, JSON] = {"content-type": "application/json"}
        if correlation_id is not None:
            headers["correlation-id"] = correlation_id
        return Envelope(Topic.for_thing(None, Criterion.SEARCH, action), headers, "/", value)

    def _failed(self, sub_id: str, error: TwinError, correlation_id: str | None) -> Envelope:
        self._subs.pop(sub_id, None)
        return self._message("failed", {"subscriptionId": sub_id, "error": error.to_json()}, correlation_id)

    async def handle(self, command: Envelope) -> list[Envelope]:
        """Answer one search command; raise `TwinError` 400 when it is not one."""
        topic = command.topic
        if (
            topic is None
            or topic.criterion is not Criterion.SEARCH
            or topic.action
            not in (
                "subscribe",
                "request",
                "cancel",
            )
        ):
            msg = f"'{topic}' is not a search command (subscribe, request or cancel)"
            raise invalid_envelope(msg)
        value = command.value if isinstance(command.value, dict) else {}
        correlation_id = command.correlation_id
        if topic.action == "subscribe":
            return [self._subscribe(value, command.fields, correlation_id)]
        sub_id = value.get("subscriptionId")
        if not isinstance(sub_id, str):
            msg = f"the search {topic.action} needs a string 'subscriptionId'"
            raise invalid_envelope(msg)
        sub = self._subs.get(sub_id)
        if topic.action == "cancel":
            self._subs.pop(sub_id, None)
            return []
        if sub is None:
            error = _protocol_error(f"The search subscription '{sub_id}' does not exist or has ended.")
            return [self._failed(sub_id, error, correlation_id)]
        demand = value.get("demand")
        if not isinstance(demand, int) or isinstance(demand, bool) or demand <= 0:
            error = _protocol_error(
                f"The demand of a search request must be a positive integer, not {demand!r}."
            )
            return [self._failed(sub_id, error, sub.correlation_id or correlation_id)]
        return await self._pages(sub_id, sub, demand)

    def _subscribe(self, value: dict[str, JSON], fields: str | None, correlation_id: str | None) -> Envelope:
        self._next_id += 1
        sub_id = str(self._next_id)
        filter_ = value.get("filter")
        options = value.get("options")
        requested = value.get("namespaces")
        if (
            (filter_ is not None and not isinstance(filter_, str))
            or (options is not None and not isinstance(options, str))
            or (
                requested is not None
                and not (isinstance(requested, list) and all(isinstance(n, str) for n in requested))
            )
        ):
            error = _protocol_error(
                "A search subscribe needs a string filter and options and a list of namespaces."
            )
            return self._failed(sub_id, error, correlation_id)
        namespaces: Collection[str] | None = self.scope
        if requested is not None:
            namespaces = _Within(requested, self.scope) if self.scope is not None else requested
        self._subs[sub_id] = _Subscription(filter_, namespaces, fields, options, correlation_id)
        return self._message("created", {"subscriptionId": sub_id}, correlation_id)

    async def _pages(self, sub_id: str, sub: _Subscription, demand: int) -> list[Envelope]:
        out: list[Envelope] = []
        for _ in range(demand):
            try:
                items, cursor = await self.store.search_page(
                    filter=sub.filter,
                    namespaces=sub.namespaces,
                    fields=sub.fields,
                    option=sub.options,
                    cursor=sub.cursor,
                )
            except TwinError as error:
                out.append(self._failed(sub_id, error, sub.correlation_id))
                return out
            if items:
                out.append(
                    self._message("next", {"subscriptionId": sub_id, "items": items}, sub.correlation_id)
                )
            sub.cursor = cursor
            if cursor is None:
                self._subs.pop(sub_id, None)
                out.append(self._message("complete", {"subscriptionId": sub_id}, sub.correlation_id))
                return out
        return out
