"""Ditto's documented protocol examples sent to `/ws/2`: each command gets its documented status.

For every example page whose first example is a things command, the thing is reset to a state
where the command applies (the documented full thing; for a `...responsecreated` example without
the resource the command creates), the command is sent over a real WebSocket and the answer's
status and topic must be those of the documented response.
"""

from __future__ import annotations

import asyncio
import copy
import json
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect

from centinela.twin.http import TwinServiceSettings, embedded_service
from centinela.twin.store import EmbeddedTwinStore

pytestmark = pytest.mark.integration

AUTH = {"Authorization": "Basic ZGl0dG86ZGl0dG8="}  # ditto:ditto
THING = "org.eclipse.ditto:fancy-thing"
ACCELEROMETER = {
    "definition": ["org.eclipse.ditto:accelerometer:1.0.0"],
    "properties": {"x": 3.141, "y": 2.718, "z": 1, "unit": "g"},
    "desiredProperties": {"x": 4, "y": 3, "z": 5, "unit": "g"},
}


def _base() -> dict[str, Any]:
    return {
        "policyId": "org.eclipse.ditto:the_policy_id",
        "definition": "org.eclipse.ditto:SomeModel:1.0.0",
        "attributes": {"location": {"latitude": 44.673856, "longitude": 8.261719}},
        "features": {"accelerometer": copy.deepcopy(ACCELEROMETER)},
    }


def _pages(root: Path) -> list[tuple[str, dict[str, Any], list[tuple[str, dict[str, Any]]]]]:
    index = json.loads((root / "index.json").read_text())
    pages = []
    for page in index["pages"]:
        names = page["examples"]
        if not names or not names[0].startswith("things/commands/"):
            continue
        command = json.loads((root / names[0]).read_text())
        responses = [(n, json.loads((root / n).read_text())) for n in names[1:]]
        responses = [(n, r) for n, r in responses if "status" in r and "/commands/" in r["topic"]]
        if responses:
            pages.append((page["title"], command, responses))
    return pages


def _inconsistent(command: dict[str, Any]) -> bool:
    """The example's body names another thing than its topic (Ditto would refuse it, too)."""
    value = command.get("value")
    namespace, name = command["topic"].split("/")[:2]
    return isinstance(value, dict) and value.get("thingId") not in (None, f"{namespace}:{name}")


# Documented answers the embedded service gives differently, and why.
KNOWN = {
    # A thing always has a policyId (Ditto 2+), so modifying it cannot create it.
    "things/commands/modify/modifypolicyidresponsecreated.json",
    # Ditto names the things' namespace in the topic of a multi-retrieve response; the store's
    # dispatch answers on `_/_` (reported to the store's maintainers).
    "things/commands/query/retrievethingsresponse.json",
}


async def _reset(store: EmbeddedTwinStore, command: dict[str, Any], created: bool) -> None:
    namespace, name = command["topic"].split("/")[:2]
    thing_id = f"{namespace}:{name}" if name != "_" else THING
    for existing in (THING, thing_id):
        if store.revision(existing) is not None:
            await store.remove(existing, "/")
    if command["topic"].endswith("/commands/create"):
        return
    await store.put(thing_id, "/", _base())
    path = command.get("path", "/")
    if created and path not in ("/", "/policyId"):
        await store.remove(thing_id, path)


async def test_documented_commands_get_documented_answers(shared_ditto: Path) -> None:
    pages = _pages(shared_ditto / "protocol-examples")
    checked: list[str] = []
    skipped: list[str] = []
    mismatches: list[str] = []
    async with (
        EmbeddedTwinStore() as store,
        embedded_service(TwinServiceSettings(port=0), store=store) as server,
    ):
        url = server.url.replace("http://", "ws://") + "/ws/2"
        async with connect(url, additional_headers=AUTH) as ws:
            for title, command, responses in pages:
                if _inconsistent(command):
                    skipped.append(title)
                    continue
                for name, expected in responses:
                    if name in KNOWN:
                        skipped.append(name)
                        continue
                    await _reset(store, command, created="created" in name.rsplit("/", 1)[-1])
                    await ws.send(json.dumps(command))
                    answer = json.loads(await asyncio.wait_for(ws.recv(), 5))
                    got = (answer.get("status"), answer.get("topic"))
                    if got != (expected["status"], expected["topic"]):
                        mismatches.append(
                            f"{title} ({name}): {got} != {(expected['status'], expected['topic'])}"
                        )
                    checked.append(name)
    print(f"\n/ws/2 answered {len(checked)} documented command/response pairs; skipped: {skipped}")
    assert not mismatches, "\n".join(mismatches)
    assert len(checked) >= 45
