"""The runtime binds things from their events' `extraFields`, and retrieves only without them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Collection
from typing import Any

import pytest

from centinela.clock import ManualClock
from centinela.dsl import compile_source
from centinela.dsl.program import Program
from centinela.rules.output import StepOutput
from centinela.rules.runtime import Runtime, extra_fields_for
from centinela.rules.sinks import ListSink
from centinela.twin.events import EventSubscription
from centinela.twin.store import EmbeddedTwinStore

RULES = """twins Rig = things "org.acme.rigs:*" where attributes.active == true
twins Pump = definition "org.acme:pump:*"
alarm Rig HighX severity high when p.x > 80 clear when p.x < 75
alarm Pump HighP severity high when p.x > 80 clear when p.x < 75
"""
RIG = "org.acme.rigs:rig-1"
PUMP = "org.acme.pumps:p-1"
INACTIVE = {"attributes": {"active": False}, "features": {"p": {"properties": {"x": 90.0}}}}
UNDEFINED = {"features": {"p": {"properties": {"x": 90.0}}}}


def program() -> Program:
    return compile_source(RULES, "rigs.rules")


class CountingStore(EmbeddedTwinStore):
    """The embedded store, counting the things retrieved (the port's `retrieve`)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.retrieved: list[str] = []

    async def retrieve(self, thing_id: str, path: str = "/", *, fields: str | None = None) -> Any:
        self.retrieved.append(thing_id)
        return await super().retrieve(thing_id, path, fields=fields)


class NoExtraFieldsStore(CountingStore):
    """A store that does not support `extraFields`: its events never carry them."""

    def subscribe(
        self,
        *,
        namespaces: Collection[str] | None = None,
        filter: str | None = None,  # noqa: A002 - the port's name
        extra_fields: str | None = None,
        queue_size: int | None = None,
    ) -> EventSubscription:
        return super().subscribe(namespaces=namespaces, filter=filter, queue_size=queue_size)


async def _drained(runtime: Runtime, events: int) -> None:
    """Let the runtime take `events` events (bounded: the store delivers them synchronously)."""
    for _ in range(200):
        if runtime.events + runtime.ignored_own >= events:
            break
        await asyncio.sleep(0)
    for _ in range(5):
        await asyncio.sleep(0)
    assert runtime.events + runtime.ignored_own >= events


async def _running(store: EmbeddedTwinStore, listed: ListSink) -> AsyncIterator[Runtime]:
    runtime = Runtime(program(), store, ManualClock(1000.0), [listed])
    task = asyncio.create_task(runtime.run())
    await runtime.ready.wait()
    try:
        yield runtime
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def test_extra_fields_name_the_definition_and_every_input() -> None:
    assert extra_fields_for(program()) == "thingId,definition,attributes/active,features/p/properties/x"
    odd = compile_source('twins T = things "a:*"\nalarm T A severity low when p.x > 1\n', "t.rules")
    assert extra_fields_for(odd) == "thingId,definition,features/p/properties/x"


@pytest.mark.parametrize("store_type", [CountingStore, NoExtraFieldsStore])
async def test_a_thing_whose_definition_later_matches_is_bound(store_type: type[CountingStore]) -> None:
    listed = ListSink()
    async with store_type(clock=ManualClock(1000.0)) as store:
        async for runtime in _running(store, listed):
            await store.modify(PUMP, "/", UNDEFINED)
            await _drained(runtime, 1)
            assert runtime.engine.contexts[PUMP] == []  # known, but no class matches yet
            await store.merge(PUMP, "/definition", "org.acme:pump:1.0.0")
            await _drained(runtime, 2)
            assert [c.twin_class.name for c in runtime.engine.contexts[PUMP]] == ["Pump"]
            assert [(a.rule, a.state) for a in listed.out.alarms] == [("HighP", "active-unacknowledged")]
            if store_type is CountingStore:
                assert store.retrieved == [] and runtime.retrieves == 0  # bound from the event alone
            else:
                assert store.retrieved == [PUMP] and runtime.retrieves == 1  # no extra fields: retrieved


@pytest.mark.parametrize("store_type", [CountingStore, NoExtraFieldsStore])
async def test_a_where_that_becomes_true_needs_no_retrieve(store_type: type[CountingStore]) -> None:
    listed = ListSink()
    async with store_type(clock=ManualClock(1000.0)) as store:
        async for runtime in _running(store, listed):
            await store.modify(RIG, "/", INACTIVE)
            await store.merge(RIG, "/attributes/active", True)
            await _drained(runtime, 2)
            assert [(a.rule, a.state) for a in listed.out.alarms] == [("HighX", "active-unacknowledged")]
            assert store.retrieved == []  # the engine keeps the class dormant until where holds


@pytest.mark.parametrize("store_type", [CountingStore, NoExtraFieldsStore])
async def test_a_thing_the_runtime_does_not_know_is_bound_from_its_event(
    store_type: type[CountingStore],
) -> None:
    listed = ListSink()
    async with store_type(clock=ManualClock(1000.0)) as store:
        await store.modify(RIG, "/", {**INACTIVE, "attributes": {"active": True}})
        async for runtime in _running(store, listed):
            assert len(listed.out.alarms) == 1  # bound at start, by search
            runtime.engine.contexts.clear()  # as after a restart without the thing
            store.retrieved.clear()
            await store.merge(RIG, "/features/p/properties/x", 70.0)
            await _drained(runtime, 1)
            ctx = runtime.engine.contexts[RIG][0]
            assert ctx.values["/features/p/properties/x"] == 70.0
            assert ctx.values["/attributes/active"] is True
            assert store.retrieved == ([] if store_type is CountingStore else [RIG])


async def test_a_thing_no_class_can_match_is_never_retrieved() -> None:
    listed = ListSink()
    other = "org.other:rig-9"  # outside every class's id glob, which cannot change
    async with NoExtraFieldsStore(clock=ManualClock(1000.0)) as store:
        async for runtime in _running(store, listed):
            await store.modify(other, "/", INACTIVE)
            await store.merge(other, "/attributes/active", True)
            for value in (91.0, 92.0, 93.0):
                await store.merge(other, "/features/p/properties/x", value)
            await _drained(runtime, 5)
            assert store.retrieved == []
            assert runtime.engine.contexts[other] == []
            assert listed.out.alarms == []


async def test_after_a_reload_extra_fields_of_the_old_program_are_not_trusted() -> None:
    listed = ListSink()
    async with CountingStore(clock=ManualClock(1000.0)) as store:
        async for runtime in _running(store, listed):
            runtime.engine.swap(program(), 1000.0, StepOutput())  # new program, maybe other inputs
            await store.modify(PUMP, "/", UNDEFINED)
            await store.merge(PUMP, "/definition", "org.acme:pump:1.0.0")
            await _drained(runtime, 2)
            assert store.retrieved == [PUMP]  # the subscription's fields were chosen for the old one
            assert [c.twin_class.name for c in runtime.engine.contexts[PUMP]] == ["Pump"]
