"""Ditto Protocol commands applied to the embedded store: a command envelope in, its response out."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from centinela.errors import TwinError
from centinela.twin.messages import error_envelope, response_envelope, string_headers
from centinela.twin.model import parse_fields, select_fields
from centinela.twin.pointer import MISSING, format_pointer, get_at, parse_pointer
from centinela.twin.policies import parse_policy_pointer
from centinela.twin.protocol import ABSENT, Channel, Criterion, Envelope, Group, Topic, invalid_envelope

if TYPE_CHECKING:
    from centinela.twin.store import EmbeddedTwinStore

__all__ = ["apply_command"]

JSON = Any


def _live_unsupported(topic: object) -> TwinError:
    return TwinError(
        400,
        "things:live.unsupported",
        f"The live command '{topic}' cannot be answered: the embedded twin service has no live channel "
        "to devices.",
        "Send the command on the twin channel, or connect the device to a real Eclipse Ditto.",
    )


def _needs_value(command: Envelope) -> JSON:
    if command.value is ABSENT:
        msg = f"the command '{command.topic}' needs a 'value'"
        raise invalid_envelope(msg)
    return command.value


async def apply_command(
    store: EmbeddedTwinStore,
    command: Envelope,
    *,
    namespaces: Collection[str] | None = None,
    answer: bool = True,
) -> Envelope:
    """Apply a Ditto Protocol thing or policy command; errors come back as error envelopes.

    `answer=False` is for callers that only need the outcome (a connection source without a reply
    target): the response of a successful modify or merge then carries its status alone, no value
    and no ETag (a sub-resource's ETag hashes its value).
    """
    try:
        return await _apply(store, command, namespaces, answer)
    except TwinError as error:
        return error_envelope(error, topic=command.topic, headers=command.headers)


async def _apply(
    store: EmbeddedTwinStore, command: Envelope, namespaces: Collection[str] | None, answer: bool
) -> Envelope:
    topic = command.topic
    if topic is None:
        msg = "a command needs a 'topic'"
        raise invalid_envelope(msg)
    if topic.criterion is not Criterion.COMMANDS or command.status is not None:
        msg = f"'{topic}' is not a command (a {command.kind.value} cannot be applied to the twin store)"
        raise invalid_envelope(msg)
    if topic.group is Group.POLICIES:
        return await _policy(store, command, namespaces)
    if topic.group is not Group.THINGS:
        msg = f"'{topic}' is not a thing or policy command"
        raise invalid_envelope(msg)
    if topic.channel is Channel.LIVE:
        raise _live_unsupported(topic)
    headers = string_headers(command.headers)
    conditions = {
        "if_match": headers.get("if-match"),
        "if_none_match": headers.get("if-none-match"),
        "condition": headers.get("condition"),
    }
    thing_id = topic.entity_id
    action = topic.action
    if thing_id is None:
        if action == "retrieve":
            return await _retrieve_many(store, command, namespaces)
        msg = f"the command '{topic}' needs a thing id in its topic"
        raise invalid_envelope(msg)
    path = command.path
    if action == "create":
        if parse_pointer(path):
            msg = f"a create command applies to the path '/', not '{path}'"
            raise invalid_envelope(msg)
        result = await store.create(thing_id, _needs_value(command), headers=headers, namespaces=namespaces)
        return response_envelope(command, 201, result.value, headers=_etag(result.etag))
    if action == "modify":
        result = await store.put(
            thing_id, path, _needs_value(command), headers=headers, namespaces=namespaces, **conditions
        )
        if not answer:
            return _outcome(command, result.status)
        value = result.value if result.created else ABSENT
        return response_envelope(command, result.status, value, headers=_etag(result.etag))
    if action == "merge":
        result = await store.patch(
            thing_id, path, _needs_value(command), headers=headers, namespaces=namespaces, **conditions
        )
        if not answer:
            return _outcome(command, result.status)
        if result.created:
            # Ditto answers a merge that created the thing as the create it became.
            assert command.topic is not None  # noqa: S101 - checked above
            created = replace(command, topic=command.topic.with_criterion(Criterion.COMMANDS, "create"))
            return response_envelope(created, 201, result.value, headers=_etag(result.etag))
        return response_envelope(command, 204, headers=_etag(result.etag))
    if action == "delete":
        await store.remove(thing_id, path, headers=headers, namespaces=namespaces, **conditions)
        return response_envelope(command, 204)
    fields = _relative_fields(path, command.fields)
    read = await store.get(thing_id, path, fields=fields, namespaces=namespaces, **conditions)
    return response_envelope(command, 200, read.value, headers=_etag(read.etag))


def _relative_fields(path: str, fields: str | None) -> str | None:
    """Field selectors of a sub-resource retrieve, relative to that resource.

    Ditto's protocol examples name the resource itself in them (`fields: "properties/x"` at
    `/features/f/properties`, `"attributes"` at `/attributes`); over HTTP they are relative. When
    every selector starts with the path's last key, that key is taken off (alone, it means all).
    """
    parts = parse_pointer(path)
    if fields is None or not parts:
        return fields
    selectors = parse_fields(fields)
    if not all(s and s[0] == parts[-1] for s in selectors):
        return fields
    if any(len(s) == 1 for s in selectors):
        return None
    return ",".join(format_pointer(s[1:])[1:] for s in selectors)


def _outcome(command: Envelope, status: int) -> Envelope:
    """The unanswered form of a successful change's response: its status alone."""
    return Envelope(command.topic, {}, command.path, ABSENT, status=status)


def _etag(etag: str | None) -> dict[str, str]:
    return {"etag": etag} if etag is not None else {}


async def _retrieve_many(
    store: EmbeddedTwinStore, command: Envelope, namespaces: Collection[str] | None
) -> Envelope:
    value = command.value
    ids = value.get("thingIds") if isinstance(value, dict) else None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        msg = "a retrieve command for '_/_' needs a value {'thingIds': [...]}"
        raise invalid_envelope(msg)
    things = []
    for thing_id in ids:
        try:
            things.append((await store.get(thing_id, fields=command.fields, namespaces=namespaces)).value)
        except TwinError as error:
            if error.status != 404:
                raise
    response = response_envelope(command, 200, things)
    # As Ditto: when every requested thing is in one namespace, the answer's topic names it.
    spaces = {thing_id.partition(":")[0] for thing_id in ids}
    topic = response.topic
    if len(spaces) == 1 and topic is not None and (namespace := spaces.pop()):
        topic = Topic(namespace, "_", topic.group, topic.criterion, topic.channel, topic.action)
        response = replace(response, topic=topic)
    return response


async def _policy(
    store: EmbeddedTwinStore, command: Envelope, namespaces: Collection[str] | None
) -> Envelope:
    topic = command.topic
    assert topic is not None  # noqa: S101 - checked by the caller
    policy_id = topic.entity_id
    if policy_id is None:
        msg = f"the policy command '{topic}' needs a policy id in its topic"
        raise invalid_envelope(msg)
    action = topic.action
    if action == "retrieve":
        policy = store.get_policy(policy_id)
        if namespaces is not None and policy_id.partition(":")[0] not in namespaces:
            from centinela.twin.errors import policy_not_found

            raise policy_not_found(policy_id)
        found = get_at(policy, parse_policy_pointer(command.path))
        if found is MISSING:
            from centinela.twin.errors import policy_not_found

            raise policy_not_found(policy_id)
        if command.fields:
            found = select_fields(found, parse_fields(command.fields))
        return response_envelope(command, 200, found)
    if action in ("create", "modify"):
        if action == "create" and parse_pointer(command.path):
            msg = "a policy create command applies to the path '/'"
            raise invalid_envelope(msg)
        value = _needs_value(command)
        if action == "create":
            try:
                store.get_policy(policy_id)
            except TwinError:
                pass
            else:
                raise TwinError(
                    409, "policies:policy.conflict", f"The Policy with ID '{policy_id}' already exists."
                )
        created = await store.put_policy(policy_id, command.path, value, namespaces=namespaces)
        return response_envelope(command, 201 if created else 204, value if created else ABSENT)
    if action == "delete":
        await store.remove_policy(policy_id, command.path, namespaces=namespaces)
        return response_envelope(command, 204)
    msg = f"the policy command action '{action}' is not supported"
    raise invalid_envelope(msg)
