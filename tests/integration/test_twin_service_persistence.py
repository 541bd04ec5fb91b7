"""The twin service over SQLite: twins and revisions survive a restart of the service."""

from __future__ import annotations

from pathlib import Path

import pytest

from centinela.twin.client import DittoTwinStore
from centinela.twin.client_auth import DittoAuth
from centinela.twin.http import embedded_service
from centinela.twin.store import EmbeddedTwinStore

pytestmark = pytest.mark.integration

THING = "org.acme.field:well-7"


async def test_revisions_survive_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "twins.db"
    auth = DittoAuth.basic("ditto", "ditto")
    async with EmbeddedTwinStore.from_url(str(db)) as store, embedded_service(store=store) as server:
        async with DittoTwinStore(server.url, auth=auth) as client:
            await client.modify(THING, "/", {"attributes": {"site": "north"}})
            assert await client.merge(THING, "/", {"attributes": {"depth": 1200}}) == 2
    async with EmbeddedTwinStore.from_url(str(db)) as store, embedded_service(store=store) as server:
        async with DittoTwinStore(server.url, auth=auth) as client:
            thing = await client.retrieve(THING, fields="_revision,attributes")
            assert thing == {"_revision": 2, "attributes": {"site": "north", "depth": 1200}}
            assert await client.merge(THING, "/", {"attributes": {"depth": 1300}}) == 3
