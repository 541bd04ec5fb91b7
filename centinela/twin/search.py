"""Search over the embedded store: RQL filter, namespaces, sort, size and an opaque paging cursor."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import AsyncIterator, Collection
from typing import TYPE_CHECKING, Any

from centinela.twin.errors import invalid_search_option
from centinela.twin.model import THING_FIELDS, parse_fields, select_fields
from centinela.twin.pointer import MISSING, Pointer, copy_json, get_at
from centinela.twin.rql import SortKey, compile_node, parse_filter, parse_options, referenced

if TYPE_CHECKING:
    from centinela.twin.store import EmbeddedTwinStore

__all__ = ["DEFAULT_SIZE", "MAX_SIZE", "count", "search_all", "search_page"]

JSON = Any
DEFAULT_SIZE = 25
"""Ditto's default page size."""
MAX_SIZE = 200
"""Ditto's largest page size."""


def _rank(value: JSON) -> tuple[int, Any]:
    # Missing sorts first, then null, booleans, numbers, strings, and anything else by its JSON text.
    if value is MISSING:
        return (0, 0)
    if value is None:
        return (1, 0)
    if isinstance(value, bool):
        return (2, value)
    if isinstance(value, int | float):
        return (3, value)
    if isinstance(value, str):
        return (4, value)
    return (5, json.dumps(value, sort_keys=True))


def _fingerprint(filter_: str | None, namespaces: Collection[str] | None, sort: tuple[SortKey, ...]) -> str:
    text = json.dumps([filter_, sorted(namespaces) if namespaces is not None else None, repr(sort)])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _cursor(offset: int, fingerprint: str) -> str:
    raw = json.dumps({"o": offset, "q": fingerprint}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _offset(cursor: str, fingerprint: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        offset = data["o"]
        same = data["q"] == fingerprint
    except (ValueError, KeyError, TypeError) as exc:
        msg = f"cursor({cursor})"
        raise invalid_search_option(msg, "the cursor is not one this store issued") from exc
    if not same or not isinstance(offset, int) or offset < 0:
        msg = f"cursor({cursor})"
        raise invalid_search_option(msg, "the cursor belongs to another filter, namespaces or sort order")
    return offset


def _specials(*groups: Collection[Pointer]) -> frozenset[str]:
    return frozenset(p[0] for group in groups for p in group if p and p[0].startswith("_"))


def _matching(
    store: EmbeddedTwinStore,
    filter_: str | None,
    namespaces: Collection[str] | None,
    also: Collection[Pointer] = (),
) -> list[dict[str, JSON]]:
    """Views of the matching things, sorted by id, with the `_` members the filter and `also` read."""
    node = parse_filter(filter_) if filter_ else None
    specials = _specials(also, [(name,) for name in referenced(node)] if node is not None else [])
    views = [store.view_of(r, specials) for r in store.live_records(namespaces)]
    if node is None:
        return views
    predicate = compile_node(node)
    return [v for v in views if predicate(v)]


def search_page(
    store: EmbeddedTwinStore,
    *,
    filter: str | None = None,  # noqa: A002 - Ditto's parameter name
    namespaces: Collection[str] | None = None,
    fields: str | None = None,
    option: str | None = None,
    sort: str | None = None,
    size: int | None = None,
    cursor: str | None = None,
) -> tuple[list[JSON], str | None]:
    """One page of matching things and the cursor of the next page (`None` on the last page).

    `option` is Ditto's `sort(...),size(n),cursor(...)` text; `sort`/`size`/`cursor` given
    separately win over it. The default order is by `thingId`, which also breaks ties.
    """
    options = parse_options(option) if option else None
    keys = options.sort if options is not None else ()
    if sort:
        from centinela.twin.rql import parse_sort

        keys = parse_sort(sort)
    size = size if size is not None else (options.size if options is not None else None)
    cursor = cursor if cursor is not None else (options.cursor if options is not None else None)
    size = size or DEFAULT_SIZE
    if not 1 <= size <= MAX_SIZE:
        msg = f"size({size})"
        raise invalid_search_option(msg, f"size must be from 1 to {MAX_SIZE}")
    selectors = parse_fields(fields) if fields else None
    fingerprint = _fingerprint(filter, namespaces, keys)
    start = _offset(cursor, fingerprint) if cursor else 0
    views = _matching(store, filter, namespaces, [k.path for k in keys] + list(selectors or ()))
    for key in reversed(keys):
        path = key.path
        views.sort(key=lambda v: _rank(get_at(v, path)), reverse=not key.ascending)  # noqa: B023
    page = views[start : start + size]
    items = [
        copy_json(select_fields(v, selectors) if selectors else {k: v[k] for k in THING_FIELDS if k in v})
        for v in page
    ]
    following = start + size
    return items, (_cursor(following, fingerprint) if following < len(views) else None)


def count(
    store: EmbeddedTwinStore,
    *,
    filter: str | None = None,  # noqa: A002 - Ditto's parameter name
    namespaces: Collection[str] | None = None,
) -> int:
    """How many things match (Ditto's `/search/things/count`)."""
    return len(_matching(store, filter, namespaces))


async def search_all(
    store: EmbeddedTwinStore,
    *,
    filter: str | None = None,  # noqa: A002 - Ditto's parameter name
    namespaces: Collection[str] | None = None,
    fields: str | None = None,
) -> AsyncIterator[JSON]:
    """Every matching thing, page by page."""
    cursor: str | None = None
    while True:
        items, cursor = search_page(
            store, filter=filter, namespaces=namespaces, fields=fields, size=store.page_size, cursor=cursor
        )
        for item in items:
            yield item
        if cursor is None:
            return
