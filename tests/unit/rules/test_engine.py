"""The evaluation core on a hand-written compiled program: binding, computes, alarms, timers, health."""

from __future__ import annotations

from handmade import CUT, LIQUID, OIL, TUBING, WATER, well_program, well_thing

from centinela.rules.alarms import Action, ActionKind
from centinela.rules.engine import Engine
from centinela.rules.output import StepOutput

WELL = "org.acme.wells:well-01"


def _engine(**kw: float) -> tuple[Engine, StepOutput]:
    engine = Engine(well_program(**kw))
    out = StepOutput()
    engine.bind(well_thing(), 0.0, out)
    return engine, out


def test_bind_evaluates_computes_once_and_writes_one_patch() -> None:
    engine, out = _engine()
    assert [c.twin_class.name for c in engine.contexts[WELL]] == ["Well"]
    props = out.patches[WELL]["features"]["production"]["properties"]
    assert props == {"liquidRate": 1000.0, "waterCut": 20.0}
    assert out.alarms == []


def test_unrelated_thing_is_not_bound() -> None:
    engine = Engine(well_program())
    thing = well_thing("org.acme.rigs:rig-01") | {"definition": "org.acme:drilling-rig:1.0.0"}
    assert engine.bind(thing, 0.0, StepOutput()) == []


def test_unchanged_computed_value_is_not_rewritten() -> None:
    engine, _ = _engine()
    out = StepOutput()
    engine.ingest(WELL, OIL, 800.0, 1.0, out)
    assert "features" not in out.patches.get(WELL, {})
    engine.ingest(WELL, OIL, 900.0, 2.0, out)
    assert out.patches[WELL]["features"]["production"]["properties"]["liquidRate"] == 1100.0


def test_on_delay_raises_at_deadline_from_timer_and_clear_needs_deadband() -> None:
    engine, _ = _engine()
    out = StepOutput()
    engine.ingest(WELL, TUBING, 3100.0, 10.0, out)
    assert out.alarms == []
    assert engine.next_wake() == 40.0
    engine.advance(40.0, out)
    [raised] = out.alarms
    assert (raised.time, raised.state, raised.rule) == (40.0, "active-unacknowledged", "HighTubingPressure")
    assert "pressure.tubing = 3100" in raised.explanation and "for 30 s" in raised.explanation
    assert raised.message == f"Tubing pressure 3100.0 psi on {WELL} (limit 3000)"
    feature = out.patches[WELL]["features"]["alarms"]["properties"]["HighTubingPressure"]
    assert feature["state"] == "active-unacknowledged" and feature["lastTransition"] == raised.id
    out.clear()
    engine.ingest(WELL, TUBING, 2950.0, 50.0, out)  # below the limit but inside the deadband
    engine.advance(100.0, out)
    assert [a.state for a in out.alarms] == []
    engine.ingest(WELL, TUBING, 2850.0, 101.0, out)
    engine.advance(111.0, out)
    assert [(a.time, a.state) for a in out.alarms] == [(111.0, "returned-unacknowledged")]


def test_late_reading_gives_the_same_transitions_as_a_timely_timer() -> None:
    timely, _ = _engine()
    late, _ = _engine()
    a, b = StepOutput(), StepOutput()
    for engine, out, fire in ((timely, a, True), (late, b, False)):
        engine.ingest(WELL, TUBING, 3100.0, 10.0, out)
        if fire:
            engine.advance(45.0, out)
        engine.ingest(WELL, TUBING, 3200.0, 45.0, out)
    assert [e.id for e in a.alarms] == [e.id for e in b.alarms]
    assert len(a.alarms) == 1


def test_reprocessing_the_same_reading_never_repeats_a_transition() -> None:
    engine, _ = _engine(on_delay=0.0)
    out = StepOutput()
    engine.ingest(WELL, TUBING, 3100.0, 10.0, out)
    engine.ingest(WELL, TUBING, 3100.0, 10.0, out)
    assert len(out.alarms) == 1
    assert engine.contexts[WELL][0].duplicates == 1


def test_out_of_order_reading_is_flagged_not_applied_as_current() -> None:
    engine, _ = _engine(on_delay=0.0)
    out = StepOutput()
    engine.ingest(WELL, TUBING, 2000.0, 10.0, out)
    engine.ingest(WELL, TUBING, 3500.0, 5.0, out)
    assert engine.out_of_order == 1
    assert engine.contexts[WELL][0].values[TUBING] == 2000.0
    assert out.alarms == []


def test_stale_alarm_fires_without_new_data() -> None:
    engine, _ = _engine(stale_after=300.0)
    out = StepOutput()
    engine.ingest(WELL, TUBING, 2500.0, 100.0, out)
    engine.advance(399.0, out)
    assert out.alarms == []
    engine.advance(1000.0, out)
    [stale] = out.alarms
    assert (stale.rule, stale.time, stale.state) == ("NoData", 400.0, "active-unacknowledged")


def test_failing_rule_is_health_and_others_go_on() -> None:
    engine, _ = _engine(on_delay=0.0)
    out = StepOutput()
    engine.ingest(WELL, OIL, 0.0, 1.0, out)
    engine.ingest(WELL, WATER, 0.0, 2.0, out)
    [health] = out.health
    assert health.rule == "waterCut" and "ZeroDivisionError" in (health.error or "")
    assert engine.contexts[WELL][0].health == {"waterCut": health.error}
    engine.ingest(WELL, TUBING, 3100.0, 3.0, out)
    assert [a.rule for a in out.alarms] == ["HighTubingPressure"]
    out.clear()
    engine.ingest(WELL, OIL, 30.0, 4.0, out)
    assert [h.error for h in out.health] == [None]
    assert out.patches[WELL]["features"]["production"]["properties"][CUT.rsplit("/", 1)[1]] == 0.0
    assert LIQUID in engine.contexts[WELL][0].written


def test_operator_ack_and_shelve_through_the_engine() -> None:
    engine, _ = _engine(on_delay=0.0)
    out = StepOutput()
    engine.ingest(WELL, TUBING, 3100.0, 1.0, out)
    engine.act(WELL, "HighTubingPressure", Action(ActionKind.ACK), 2.0, out)
    engine.act(WELL, "HighTubingPressure", Action(ActionKind.SHELVE, until=100.0), 3.0, out)
    engine.advance(200.0, out)
    assert [(a.time, a.state) for a in out.alarms] == [
        (1.0, "active-unacknowledged"),
        (2.0, "active-acknowledged"),
        (3.0, "shelved"),
        (100.0, "active-unacknowledged"),
    ]


def test_swap_keeps_state_of_unchanged_rules_and_resets_changed_ones() -> None:
    from dataclasses import replace

    from centinela.dsl.program import Program

    engine, _ = _engine(on_delay=0.0, stale_after=300.0)
    out = StepOutput()
    engine.ingest(WELL, TUBING, 3100.0, 10.0, out)
    engine.advance(500.0, out)  # NoData raises at 310
    ctx = engine.contexts[WELL][0]
    assert ctx.alarms["HighTubingPressure"].active and ctx.alarms["NoData"].active
    old = well_program(on_delay=0.0, stale_after=300.0)
    cls = old.classes["Well"]
    nodes = tuple(replace(n, version="v2") if n.name == "NoData" else n for n in cls.nodes)
    new = Program(old.namespace, {"Well": replace(cls, nodes=nodes)}, (), old.files)
    out = StepOutput()
    engine.swap(new, 500.0, out)
    ctx = engine.contexts[WELL][0]
    assert ctx.alarms["HighTubingPressure"].state.value == "active-unacknowledged"  # kept, nothing new
    assert [(a.rule, a.time) for a in out.alarms] == [("NoData", 500.0)]  # fresh state raises again


def test_one_merge_of_several_inputs_is_one_step() -> None:
    engine, _ = _engine()
    out = StepOutput()
    change = {"oilRate": 0.0, "waterRate": 10.0}
    engine.ingest_change(WELL, "/features/flow/properties", change, 5.0, out)
    liquid = [s.value for s in out.samples if s.path == LIQUID]
    assert liquid == [10.0]  # never the half-applied 200.0
    assert out.patches[WELL]["features"]["production"]["properties"]["liquidRate"] == 10.0


def test_deleted_input_becomes_missing_and_a_held_alarm_stays() -> None:
    engine, _ = _engine(on_delay=0.0)
    out = StepOutput()
    engine.ingest(WELL, TUBING, 3100.0, 1.0, out)
    engine.ingest_change(WELL, "/features/pressure", None, 2.0, out, merge=False)  # feature deleted
    ctx = engine.contexts[WELL][0]
    assert TUBING not in ctx.values
    assert ctx.alarms["HighTubingPressure"].state.value == "active-unacknowledged"  # on missing hold
    engine.ingest_change(
        WELL, "/", {"features": {"flow": {"properties": {"oilRate": 10.0}}}}, 3.0, out, merge=False
    )  # the whole thing replaced: water rate gone too
    assert WATER not in ctx.values and ctx.values[OIL] == 10.0
