"""The engine on the compiled example rules: chattering, explanations and messages from real `.rules`."""

from __future__ import annotations

from pathlib import Path

from centinela.dsl import compile_paths
from centinela.rules.engine import Engine
from centinela.rules.output import StepOutput

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
WELL = "org.acme.wells:well-07"
CASING = "/features/pressure/properties/casing"
TUBING = "/features/pressure/properties/tubing"


def _well_engine() -> tuple[Engine, StepOutput]:
    engine = Engine(compile_paths([EXAMPLES]))
    out = StepOutput()
    thing = {
        "thingId": WELL,
        "definition": "org.acme:producer-well:1.0.0",
        "attributes": {"status": "producing", "limits": {"tubingPressure": 3000}},
    }
    bound = engine.bind(thing, 0.0, out)
    assert [c.twin_class.name for c in bound if not c.dormant] == ["Well"]
    assert {c.twin_class.name for c in bound if c.dormant} == {"EspWell", "GasLiftWell"}  # `where` false
    return engine, out


def test_alternating_casing_pressure_is_reported_chattering() -> None:
    engine, out = _well_engine()
    engine.ingest(WELL, CASING, 1000.0, 0.0, out)
    for i in range(1, 13):
        engine.ingest(WELL, CASING, 1300.0 if i % 2 else 1000.0, 20.0 * i, out)
    causes = [(a.cause, a.time) for a in out.alarms if a.rule == "CasingPressureRising"]
    raised = [t for c, t in causes if c == "raised"]
    assert len(raised) == 6
    assert ("chattering", raised[5]) in causes  # the sixth activation within 10 minutes
    assert engine.contexts[WELL][0].alarms["CasingPressureRising"].chattering
    out.clear()
    engine.advance(raised[5] + 600.0, out)  # the window empties: chattering ends by itself
    assert [a.cause for a in out.alarms if a.rule == "CasingPressureRising"] == ["chatter-end"]


def test_transition_carries_explanation_and_rendered_message() -> None:
    engine, out = _well_engine()
    engine.ingest(WELL, TUBING, 3104.2, 10.0, out)
    engine.advance(100.0, out)
    [raised] = [a for a in out.alarms if a.rule == "HighTubingPressure"]
    assert raised.time == 40.0 and raised.severity == "critical"
    assert "pressure.tubing = 3104.2 psi" in raised.explanation
    assert "for 30 s" in raised.explanation
    assert raised.message == f"Tubing pressure 3104.2 psi on {WELL} (limit 3000)"
    again = Engine(compile_paths([EXAMPLES]))
    out2 = StepOutput()
    again.bind(
        {
            "thingId": WELL,
            "definition": "org.acme:producer-well:1.0.0",
            "attributes": {"status": "producing", "limits": {"tubingPressure": 3000}},
        },
        0.0,
        out2,
    )
    again.ingest(WELL, TUBING, 3104.2, 10.0, out2)
    again.advance(100.0, out2)
    assert [a.id for a in out2.alarms if a.rule == "HighTubingPressure"] == [raised.id]  # deterministic id


def test_age_rule_fires_without_new_data() -> None:
    from centinela.dsl import compile_source

    program = compile_source(
        'twins S = things "s:*"\nalarm S Silent severity low when age(p.x) > 10s\n', "age.rules"
    )
    engine = Engine(program)
    out = StepOutput()
    engine.bind({"thingId": "s:one"}, 0.0, out)
    engine.ingest("s:one", "/features/p/properties/x", 1.0, 5.0, out)
    engine.advance(14.0, out)
    assert out.alarms == []
    engine.advance(30.0, out)
    [silent] = out.alarms
    assert silent.rule == "Silent" and 15.0 < silent.time <= 16.0  # within the age resolution (1 s)


def test_a_timer_due_with_a_merge_never_sees_half_of_the_merge() -> None:
    from centinela.dsl import compile_source

    program = compile_source(
        'twins S = things "s:*"\n'
        "alarm S Both severity low when a.x > 1 and a.y > 1 and not stale(a.x, 10s)\n",
        "merge.rules",
    )
    engine = Engine(program)
    out = StepOutput()
    engine.bind({"thingId": "s:m"}, 0.0, out)
    engine.ingest_change("s:m", "/features/a/properties", {"x": 0.0, "y": 0.0}, 0.0, out)
    # x goes stale at 10 s; at exactly 10 s one merge brings x and y above 1 together.
    engine.ingest_change("s:m", "/features/a/properties", {"x": 5.0, "y": 5.0}, 10.0, out)
    assert [(a.time, a.cause) for a in out.alarms] == [(10.0, "raised")]
