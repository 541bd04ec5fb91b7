"""The SQLite-backed embedded store survives a real process restart with revisions and policies."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

WRITE = """
import asyncio, sys
from centinela.twin.store import EmbeddedTwinStore

async def main(url):
    async with EmbeddedTwinStore.from_url(url) as store:
        headers = {"ditto-originator": "pre:op"}
        await store.put("acme:well-1", "/", {"attributes": {"site": "north"}}, headers=headers)
        await store.merge("acme:well-1", "/features/p/properties", {"tubing": 101.5})
        await store.put("acme:gone", "/", {})
        await store.delete("acme:gone")

asyncio.run(main(sys.argv[1]))
"""

READ = """
import asyncio, json, sys
from centinela.twin.store import EmbeddedTwinStore

async def main(url):
    async with EmbeddedTwinStore.from_url(url) as store:
        thing = await store.retrieve("acme:well-1", fields="thingId,_revision,features,attributes")
        policy = store.get_policy("acme:well-1")
        recreated = await store.put("acme:gone", "/", {})
        print(json.dumps({"thing": thing, "policy": policy, "recreated": recreated.revision}))

asyncio.run(main(sys.argv[1]))
"""


def _run(script: str, url: str) -> str:
    done = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", script, url], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_restart_keeps_things_revisions_and_policies(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'twins.db'}"
    _run(WRITE, url)
    seen = json.loads(_run(READ, url))
    assert seen["thing"] == {
        "thingId": "acme:well-1",
        "_revision": 2,
        "attributes": {"site": "north"},
        "features": {"p": {"properties": {"tubing": 101.5}}},
    }
    assert "pre:op" in seen["policy"]["entries"]["DEFAULT"]["subjects"]
    assert seen["recreated"] == 3  # a deleted thing's revision carries on
