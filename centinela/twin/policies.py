"""The minimal policy the embedded store keeps with things (no enforcement beyond namespaces)."""

from __future__ import annotations

import re
from typing import Any

from centinela.twin.pointer import Pointer, parse_pointer

__all__ = ["DEFAULT_SUBJECT", "default_policy", "parse_policy_pointer", "validate_policy"]

JSON = Any

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
