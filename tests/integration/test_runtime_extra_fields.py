"""The runtime over `DittoTwinStore` (WebSocket events) binds a thing from `extraFields`, not a retrieve."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from centinela.clock import SystemClock
from centinela.dsl import compile_source
from centinela.rules.output import StepOutput
from centinela.rules.runtime import Runtime
from centinela.rules.sinks import ListSink
from centinela.twin.client import DittoTwinStore
from centinela.twin.client_auth import DittoAuth
from centinela.twin.http import embedded_service

pytestmark = pytest.mark.integration

RULES = """twins Pump = definition "org.acme:pump:*"
alarm Pump HighP severity high when p.x > 80 clear when p.x < 75
"""
PUMP = "org.acme.pumps:p-1"
UNDEFINED = {"features": {"p": {"properties": {"x": 90.0}}}}


class CountingDittoTwinStore(DittoTwinStore):
    """`DittoTwinStore` counting the things retrieved whole (its HTTP writes read `_revision` alone)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.retrieved: list[str] = []

    async def retrieve(self, thing_id: str, path: str = "/", *, fields: str | None = None) -> Any:
        if fields is None:
            self.retrieved.append(thing_id)
        return await super().retrieve(thing_id, path, fields=fields)


@pytest.mark.parametrize("commands", ["http", "ws"])
async def test_a_thing_whose_definition_later_matches_binds_from_the_websocket_event(commands: str) -> None:
    alarmed = asyncio.Event()

    def seen(out: StepOutput) -> None:
        if out.alarms:
            alarmed.set()

    listed = ListSink()
    async with embedded_service() as server:
        auth = DittoAuth.basic("ditto", "ditto")
        async with CountingDittoTwinStore(server.url, auth=auth, commands=commands) as twin:
            program = compile_source(RULES, "rigs.rules")
            runtime = Runtime(program, twin, SystemClock(), [listed], on_output=seen)
            task = asyncio.create_task(runtime.run())
            try:
                await asyncio.wait_for(runtime.ready.wait(), 10)
                await twin.modify(PUMP, "/", UNDEFINED)  # no class matches it yet
                await twin.merge(PUMP, "/definition", "org.acme:pump:1.0.0")
                await asyncio.wait_for(alarmed.wait(), 10)
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
    assert [(a.thing_id, a.rule, a.state) for a in listed.out.alarms] == [
        (PUMP, "HighP", "active-unacknowledged")
    ]
    assert [c.twin_class.name for c in runtime.engine.contexts[PUMP]] == ["Pump"]
    assert twin.retrieved == [] and runtime.retrieves == 0  # the event's extra fields were enough
