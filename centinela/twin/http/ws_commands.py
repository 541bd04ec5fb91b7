"""Ditto Protocol over the WebSocket: a message in, the store's response (or error) envelope out."""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import replace
from typing import Any

from centinela.errors import TwinError
from centinela.ports import ThingEvent
from centinela.twin.http.auth import Principal
from centinela.twin.http.backend import Backend
from centinela.twin.messages import error_envelope
from centinela.twin.messages import event_envelope as protocol_event
from centinela.twin.protocol import Envelope, decode, encode

__all__ = ["encode_event", "event_envelope", "handle_envelope"]

JSON = Any


def _headers_of(text: str) -> dict[str, JSON]:
    """The headers of a message that could not be decoded, so its error keeps the correlation id."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return {}
    headers = data.get("headers") if isinstance(data, dict) else None
    return {str(k): v for k, v in headers.items()} if isinstance(headers, dict) else {}


async def handle_envelope(backend: Backend, principal: Principal, text: str) -> dict[str, JSON]:
    """Apply one command envelope for `principal` (namespace-scoped); return the answer's JSON."""
    try:
        command = decode(text)
    except TwinError as error:
        return error_envelope(error, headers=_headers_of(text)).to_json()
    except (RecursionError, ValueError, TypeError) as exc:
        invalid = TwinError(
            400, "things:protocol.invalid", f"The Ditto Protocol message is not valid: {exc}."
        )
        return error_envelope(invalid, headers=_headers_of(text)).to_json()
    # As in Ditto, the authenticated subject is the originator (a new thing's policy names it).
    command = replace(command, headers={**command.headers, "ditto-originator": principal.subject})
    response: Envelope = await backend.store.apply(command, namespaces=Backend.scope(principal))
    return response.to_json()


def event_envelope(event: ThingEvent) -> dict[str, JSON]:
    """The Ditto Protocol envelope of a twin event (`ns/name/things/twin/events/<action>`)."""
    return protocol_event(event).to_json()


_ENCODED: OrderedDict[int, tuple[ThingEvent, str]] = OrderedDict()
_ENCODED_MAX = 256


def encode_event(event: ThingEvent) -> str:
    """The JSON text of an event's envelope, encoded once for every client that receives it.

    Subscriptions without `extraFields` share the store's event object, so the text is cached by
    identity (holding the event, so its id cannot be reused while cached).
    """
    hit = _ENCODED.get(id(event))
    if hit is not None and hit[0] is event:
        return hit[1]
    text = encode(protocol_event(event))
    _ENCODED[id(event)] = (event, text)
    if len(_ENCODED) > _ENCODED_MAX:
        _ENCODED.popitem(last=False)
    return text
