"""Dynamic `where`: a thing enters and leaves a class as the values its `where` reads change."""

from __future__ import annotations

from typing import Any

from centinela.dsl import compile_source
from centinela.dsl.program import Program
from centinela.infra.memory_state import MemoryStateStore
from centinela.rules.backtest import backtest_samples
from centinela.rules.engine import ALARM_FEATURE, Engine
from centinela.rules.output import StepOutput
from centinela.rules.snapshot import load_snapshot, save_snapshot

RULES = """
namespace org.acme.rigs
twins Rig = things "org.acme.rigs:*" where attributes.active == true
compute Rig flow.loss = max(flow.in - flow.out, 0)
alarm Rig HighLoss severity high when flow.loss > 80
alarm Rig LostCirculation severity high when flow.loss > 50 for 2m
"""
RIG = "org.acme.rigs:rig-01"
ACTIVE = "/attributes/active"
IN, OUT = "/features/flow/properties/in", "/features/flow/properties/out"
LOSS = "/features/flow/properties/loss"


def _program() -> Program:
    return compile_source(RULES, "where.rules")


def _dormant_rig(engine: Engine, out: StepOutput) -> None:
    engine.bind({"thingId": RIG, "attributes": {"active": False}}, 0.0, out)
    engine.ingest(RIG, IN, 300.0, 1.0, out)
    engine.ingest(RIG, OUT, 200.0, 2.0, out)


def test_a_thing_whose_where_is_false_is_dormant_values_tracked_nothing_run() -> None:
    engine, out = Engine(_program()), StepOutput()
    _dormant_rig(engine, out)
    (ctx,) = engine.contexts[RIG]
    assert ctx.dormant
    assert ctx.values[IN] == 300.0 and ctx.values[OUT] == 200.0
    assert out.alarms == [] and out.changes == {} and out.health == []
    assert ctx.alarms == {} and engine.next_wake() is None


def test_where_becoming_true_runs_the_rules_on_the_current_values() -> None:
    engine, out = Engine(_program()), StepOutput()
    _dormant_rig(engine, out)
    engine.ingest(RIG, ACTIVE, True, 10.0, out)
    (ctx,) = engine.contexts[RIG]
    assert not ctx.dormant
    assert out.changes[RIG][LOSS] == 100.0
    assert [(a.rule, a.cause, a.time) for a in out.alarms] == [("HighLoss", "raised", 10.0)]
    assert engine.next_wake() == 130.0  # the on-delay of LostCirculation runs from entry
    engine.advance(130.0, out)
    assert [(a.rule, a.cause) for a in out.alarms][-1] == ("LostCirculation", "raised")


def test_where_becoming_false_returns_alarms_to_normal_and_removes_their_features() -> None:
    engine, out = Engine(_program()), StepOutput()
    _dormant_rig(engine, out)
    engine.ingest(RIG, ACTIVE, True, 10.0, out)
    assert engine.next_wake() == 130.0
    out.clear()
    engine.ingest(RIG, ACTIVE, False, 50.0, out)
    left = [(a.rule, a.previous, a.state, a.cause, a.time) for a in out.alarms]
    assert left == [("HighLoss", "active-unacknowledged", "normal", "left-class", 50.0)]
    assert out.changes[RIG] == {ALARM_FEATURE + "HighLoss": None, ALARM_FEATURE + "LostCirculation": None}
    removed = {"HighLoss": None, "LostCirculation": None}
    assert out.patches[RIG] == {"features": {"alarms": {"properties": removed}}}
    (ctx,) = engine.contexts[RIG]
    assert ctx.dormant and ctx.alarms == {} and ctx.wake is None
    out.clear()
    engine.advance(500.0, out)  # the dropped on-delay never fires
    engine.ingest(RIG, IN, 500.0, 510.0, out)  # nor do readings run rules while it is out
    assert out.alarms == [] and out.changes == {}
    assert engine.contexts[RIG][0].values[IN] == 500.0


def test_one_change_making_where_true_is_one_step_with_all_its_values() -> None:
    engine, out = Engine(_program()), StepOutput()
    engine.bind({"thingId": RIG, "attributes": {"active": False}}, 0.0, out)
    flow = {"flow": {"properties": {"in": 400.0, "out": 100.0}}}
    change = {"attributes": {"active": True}, "features": flow}
    engine.ingest_change(RIG, "/", change, 5.0, out)
    assert out.changes[RIG][LOSS] == 300.0
    assert [(a.rule, a.cause) for a in out.alarms] == [("HighLoss", "raised")]
    out.clear()
    change = {"attributes": {"active": False}, "features": {"flow": {"properties": {"in": 100.0}}}}
    engine.ingest_change(RIG, "/", change, 6.0, out)
    assert [(a.rule, a.cause) for a in out.alarms] == [("HighLoss", "left-class")]
    assert LOSS not in out.changes[RIG]  # left before any rule ran on the new values


async def test_snapshot_and_restore_keep_a_dormant_context() -> None:
    engine, out = Engine(_program()), StepOutput()
    _dormant_rig(engine, out)
    store = MemoryStateStore()
    await save_snapshot(engine, store)
    restored = Engine(_program())
    await load_snapshot(restored, store)
    (ctx,) = restored.contexts[RIG]
    assert ctx.dormant and ctx.values[IN] == 300.0
    restored.ingest(RIG, OUT, 250.0, 3.0, out)
    assert out.alarms == []
    restored.ingest(RIG, ACTIVE, True, 10.0, out)
    assert restored.contexts[RIG][0].values[LOSS] == 50.0
    assert not restored.contexts[RIG][0].dormant


def _flipping(engine: Engine, out: StepOutput) -> None:
    engine.bind({"thingId": RIG, "attributes": {"active": False}}, 0.0, out)
    values: list[tuple[float, str, Any]] = [
        (1.0, IN, 300.0), (2.0, OUT, 100.0), (5.0, ACTIVE, True), (40.0, OUT, 250.0), (60.0, OUT, 150.0),
        (90.0, ACTIVE, False), (95.0, OUT, 100.0), (400.0, ACTIVE, True), (401.0, IN, 500.0),
    ]  # fmt: skip
    for t, path, value in values:
        engine.advance(t, out, before=True)
        engine.ingest(RIG, path, value, t, out)
    engine.advance(1000.0, out)


def test_streaming_and_backtest_agree_while_where_flips() -> None:
    engine, out = Engine(_program()), StepOutput()
    _flipping(engine, out)
    causes = [(a.rule, a.cause) for a in out.alarms]
    assert ("HighLoss", "left-class") in causes and causes.count(("HighLoss", "raised")) == 3
    report = backtest_samples(_program(), sorted(out.samples, key=lambda s: s.time), 0.0, 1000.0)
    assert [a.id for a in report.transitions] == [a.id for a in out.alarms]


def test_forced_binding_ignores_where() -> None:
    engine, out = Engine(_program()), StepOutput()
    (ctx,) = engine.bind({"thingId": RIG, "attributes": {"active": False}}, 0.0, out, force=True)
    assert not ctx.dormant
    engine.ingest(RIG, IN, 300.0, 1.0, out)
    engine.ingest(RIG, OUT, 100.0, 2.0, out)
    assert [(a.rule, a.cause) for a in out.alarms] == [("HighLoss", "raised")]
