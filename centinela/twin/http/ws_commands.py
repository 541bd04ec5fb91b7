"""Ditto Protocol twin commands over the WebSocket: envelope in, response or error envelope out."""

from __future__ import annotations

import json
from typing import Any

from centinela.errors import TwinError
from centinela.ports import ThingEvent
from centinela.twin.errors import invalid_json
from centinela.twin.http.auth import Principal
from centinela.twin.http.backend import Backend
from centinela.twin.model import to_iso

__all__ = ["event_envelope", "handle_envelope", "split_topic"]

JSON = Any
_ACTIONS = ("create", "modify", "merge", "delete", "retrieve")
_KEEP_HEADERS = ("correlation-id", "centinela-origin")


def _protocol_error(message: str) -> TwinError:
    return TwinError(400, "things:protocol.invalid", message, "Send a Ditto Protocol twin command envelope.")


def split_topic(topic: str) -> tuple[str, str, str]:
    """`ns/name/things/twin/commands/<action>` → (thing id, action, channel); 400 otherwise."""
    parts = topic.split("/")
    if len(parts) != 6 or parts[2] != "things" or parts[4] != "commands":
        msg = f"The topic '{topic}' is not a things command topic."
        raise _protocol_error(msg)
    namespace, name, _, channel, _, action = parts
    if channel != "twin":
        msg = f"The channel '{channel}' of topic '{topic}' is not supported; only 'twin' is."
        raise TwinError(400, "things:channel.unsupported", msg)
    if action not in _ACTIONS:
        msg_0 = f"The command '{action}' of topic '{topic}' is not a twin command."
        raise _protocol_error(msg_0)
    return f"{namespace}:{name}", action, channel


def _reply_headers(headers: dict[str, JSON]) -> dict[str, JSON]:
    reply = {k: headers[k] for k in _KEEP_HEADERS if k in headers}
    reply["content-type"] = "application/json"
    return reply


def _error(topic: str, headers: dict[str, JSON], error: TwinError) -> dict[str, JSON]:
    parts = topic.split("/") if isinstance(topic, str) else []
    namespace, name = (parts[0], parts[1]) if len(parts) >= 2 else ("_", "_")
    return {
        "topic": f"{namespace}/{name}/things/twin/errors",
        "headers": _reply_headers(headers),
        "path": "/",
        "value": error.to_json(),
        "status": error.status,
    }


async def handle_envelope(backend: Backend, principal: Principal, text: str) -> dict[str, JSON]:
    """Execute one command envelope for `principal` and return the response (or error) envelope."""
    topic = "_/_/things/twin/errors"
    headers: dict[str, JSON] = {}
    try:
        try:
            envelope = json.loads(text)
        except json.JSONDecodeError as exc:
            msg = f"The WebSocket message is neither a signal nor JSON: {exc.msg}."
            raise invalid_json(msg) from None
        if not isinstance(envelope, dict) or not isinstance(envelope.get("topic"), str):
            msg = "A Ditto Protocol envelope must be a JSON object with a 'topic'."
            raise _protocol_error(msg)
        topic = envelope["topic"]
        raw_headers = envelope.get("headers") or {}
        if not isinstance(raw_headers, dict):
            msg = "The 'headers' of an envelope must be a JSON object."
            raise _protocol_error(msg)
        headers = {str(k).lower(): v for k, v in raw_headers.items()}
        thing_id, action, _ = split_topic(topic)
        path = envelope.get("path", "/")
        if not isinstance(path, str):
            msg = "The 'path' of an envelope must be a string."
            raise _protocol_error(msg)
        return await _execute(backend, principal, envelope, topic, headers, thing_id, action, path)
    except TwinError as exc:
        return _error(topic, headers, exc)


async def _execute(
    backend: Backend,
    principal: Principal,
    envelope: dict[str, JSON],
    topic: str,
    headers: dict[str, JSON],
    thing_id: str,
    action: str,
    path: str,
) -> dict[str, JSON]:
    store = backend.store
    scope = Backend.scope(principal)
    str_headers = {k: str(v) for k, v in headers.items()}
    conditions = {
        "if_match": str_headers.get("if-match"),
        "if_none_match": str_headers.get("if-none-match"),
        "condition": str_headers.get("condition"),
    }
    if action != "retrieve" and action != "delete" and "value" not in envelope:
        msg = f"The '{action}' command on '{path}' carries no 'value'."
        raise _protocol_error(msg)
    value = envelope.get("value")
    response: dict[str, JSON] = {"topic": topic, "headers": _reply_headers(headers), "path": path}
    if action == "retrieve":
        fields = envelope.get("fields")
        read = await store.get(
            thing_id, path, fields=fields if isinstance(fields, str) else None, namespaces=scope, **conditions
        )
        response.update(value=read.value, status=200)
        response["headers"]["etag"] = read.etag
        return response
    if action == "create":
        result = await store.create(thing_id, value, headers=str_headers, namespaces=scope)
    elif action == "modify":
        result = await store.put(thing_id, path, value, headers=str_headers, namespaces=scope, **conditions)
    elif action == "merge":
        result = await store.patch(thing_id, path, value, headers=str_headers, namespaces=scope, **conditions)
    else:
        result = await store.remove(thing_id, path, headers=str_headers, namespaces=scope, **conditions)
    if result.created:
        response["value"] = result.value
    response["status"] = result.status
    if result.etag:
        response["headers"]["etag"] = result.etag
    return response


def event_envelope(event: ThingEvent) -> dict[str, JSON]:
    """The Ditto Protocol envelope of a twin event (`ns/name/things/twin/events/<action>`)."""
    namespace, _, name = event.thing_id.partition(":")
    envelope: dict[str, JSON] = {
        "topic": f"{namespace}/{name}/things/twin/events/{event.action}",
        "headers": {**event.headers, "content-type": "application/json"},
        "path": event.path or "/",
    }
    if event.action != "deleted":
        envelope["value"] = event.value
    envelope["revision"] = event.revision
    if event.timestamp is not None:
        envelope["timestamp"] = to_iso(event.timestamp)
    if event.extra is not None:
        envelope["extra"] = event.extra
    return envelope
