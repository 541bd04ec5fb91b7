"""The minimal policy the embedded store keeps with things (no enforcement beyond namespaces)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from centinela.twin.errors import policy_not_found
from centinela.twin.pointer import (
    MISSING,
    Pointer,
    checked_json,
    copy_json,
    delete_at,
    get_at,
    parse_pointer,
    set_at,
)

__all__ = [
    "DEFAULT_SUBJECT",
    "PolicyBook",
    "PolicyRecord",
    "default_policy",
    "parse_policy_pointer",
    "validate_policy",
]

JSON = Any


class _Saves(Protocol):
    async def save(self, things: list[Any], policies: list[PolicyRecord]) -> None: ...


@dataclass(frozen=True, slots=True)
class PolicyRecord:
    """A policy as stored (`policy` is `None` once deleted)."""

    policy_id: str
    policy: dict[str, JSON] | None


DEFAULT_SUBJECT = "nginx:ditto"
"""The subject a default policy grants to when the command names none (Ditto's local default user)."""


def default_policy(policy_id: str, subject: str = DEFAULT_SUBJECT) -> dict[str, JSON]:
    """The policy Ditto creates with a thing when none is given: one entry granting all to the creator."""
    grant = {"grant": ["READ", "WRITE"], "revoke": []}
    return {
        "policyId": policy_id,
        "entries": {
            "DEFAULT": {
                "subjects": {subject: {"type": "generated"}},
                "resources": {"thing:/": grant, "policy:/": grant, "message:/": grant},
                "importable": "implicit",
            }
        },
    }


def validate_policy(policy_id: str, value: JSON) -> dict[str, JSON]:
    """Check the shape of a policy (`entries` of `subjects` and `resources`) and set its `policyId`."""
    from centinela.twin.errors import invalid_json

    if not isinstance(value, dict):
        msg = f"The Policy '{policy_id}' must be a JSON object."
        raise invalid_json(msg)
    body_id = value.get("policyId", policy_id)
    if body_id != policy_id:
        msg = f"The Policy ID '{body_id}' in the body differs from '{policy_id}'."
        raise invalid_json(msg)
    entries = value.get("entries", {})

    def fits(entry: JSON) -> bool:
        return (
            isinstance(entry, dict)
            and isinstance(entry.get("subjects", {}), dict)
            and isinstance(entry.get("resources", {}), dict)
        )

    if not isinstance(entries, dict) or not all(fits(e) for e in entries.values()):
        msg = f"The entries of the Policy '{policy_id}' must be objects with 'subjects' and 'resources'."
        raise invalid_json(msg)
    return {"policyId": policy_id, **{k: v for k, v in value.items() if k != "policyId"}}


_RESOURCE_PATH = re.compile(r"/?entries/([^/]+)/resources/(.+)")


def parse_policy_pointer(path: str) -> Pointer:
    """A pointer into a policy; a resource key keeps its slashes (`/entries/L/resources/thing:/a/b`)."""
    if path.startswith(("/import/", "import/")):
        # Ditto's published deleteImport example addresses `/import/<id>`; read it as `/imports/<id>`.
        path = "/imports/" + path.split("/import/", 1)[-1] if path.startswith("/") else "imports/" + path[7:]
    match = _RESOURCE_PATH.fullmatch(path)
    if match is not None:
        return (*parse_pointer(f"/entries/{match[1]}/resources"), match[2])
    return parse_pointer(path)


class PolicyBook:
    """The policies of the embedded store.

    Each change is prepared here, persisted by the store, then committed; `lock` serialises
    policy changes across their persistence.
    """

    def __init__(self) -> None:
        self.policies: dict[str, dict[str, JSON]] = {}
        self.lock = asyncio.Lock()

    def load(self, records: Iterable[PolicyRecord]) -> None:
        self.policies = {r.policy_id: r.policy for r in records if r.policy is not None}

    def get(self, policy_id: str) -> dict[str, JSON] | None:
        return self.policies.get(policy_id)

    def commit(self, records: Iterable[PolicyRecord]) -> None:
        for record in records:
            if record.policy is None:
                self.policies.pop(record.policy_id, None)
            else:
                self.policies[record.policy_id] = record.policy

    def for_new_thing(
        self, policy_id: str, subject: str, source: JSON, thing_policy: Callable[[str], str | None]
    ) -> list[PolicyRecord]:
        """The policy a new thing brings: inline `_policy`, `_copyPolicyFrom` or the default.

        The default one is made only when no policy with the thing's `policyId` exists yet;
        `thing_policy` maps a thing id to its policy id (for `{{ ref:things/<id>/policyId }}`).
        """
        source = source if isinstance(source, dict) else {}
        if isinstance(source.get("_policy"), dict):
            return [PolicyRecord(policy_id, validate_policy(policy_id, source["_policy"]))]
        copy_from = source.get("_copyPolicyFrom")
        if isinstance(copy_from, str):
            template = self.policies.get(self._resolve(copy_from, thing_policy))
            if template is None:
                raise policy_not_found(copy_from)
            return [PolicyRecord(policy_id, {**copy_json(template), "policyId": policy_id})]
        if policy_id in self.policies:
            return []
        return [PolicyRecord(policy_id, default_policy(policy_id, subject))]

    @staticmethod
    def _resolve(ref: str, thing_policy: Callable[[str], str | None]) -> str:
        """`{{ ref:things/<thingId>/policyId }}` names the policy of another thing; else a policy id."""
        text = ref.strip()
        if text.startswith("{{") and text.endswith("}}"):
            inner = text[2:-2].strip()
            if inner.startswith("ref:things/") and inner.endswith("/policyId"):
                return thing_policy(inner[len("ref:things/") : -len("/policyId")]) or text
        return text

    def prepare_put(self, policy_id: str, path: str, value: JSON) -> tuple[PolicyRecord, bool]:
        """The policy after setting `value` at `path`, and whether that created something."""
        parts = parse_policy_pointer(path)
        current = self.policies.get(policy_id)
        if parts:
            if current is None:
                raise policy_not_found(policy_id)
            created = get_at(current, parts) is MISSING
            policy = validate_policy(policy_id, set_at(current, parts, checked_json(value)))
        else:
            created = current is None
            policy = validate_policy(policy_id, checked_json(value))
        return PolicyRecord(policy_id, policy), created

    def prepare_remove(self, policy_id: str, path: str) -> PolicyRecord:
        """The policy after deleting `path` (`None` for the whole policy); 404 when it is not there."""
        current = self.policies.get(policy_id)
        if current is None:
            raise policy_not_found(policy_id)
        parts = parse_policy_pointer(path)
        if parts and get_at(current, parts) is MISSING:
            raise policy_not_found(policy_id)
        return PolicyRecord(policy_id, delete_at(current, parts) if parts else None)

    async def put(self, persistence: _Saves, policy_id: str, path: str, value: JSON) -> bool:
        """Set `value` at `path` of a policy, durably; `True` when that created something."""
        async with self.lock:
            record, created = self.prepare_put(policy_id, path, value)
            await persistence.save([], [record])
            self.commit([record])
        return created

    async def remove(self, persistence: _Saves, policy_id: str, path: str) -> None:
        """Delete `path` of a policy (the policy itself for `/`), durably."""
        async with self.lock:
            record = self.prepare_remove(policy_id, path)
            await persistence.save([], [record])
            self.commit([record])
