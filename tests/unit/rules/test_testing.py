"""The `test`-block runner: virtual time, expectations, and a readable diff when a rule misbehaves."""

from __future__ import annotations

from dataclasses import replace

from handmade import LIQUID, OIL, SPAN, TUBING, WATER, well_program

from centinela.dsl import program as p
from centinela.rules.testing import run_test

K = p.TestStepKind
Step = p.TestStep


def _spec(*steps: p.TestStep) -> p.TestSpec:
    return p.TestSpec(
        "high tubing",
        "Well",
        "org.acme.wells:w1",
        {"limits": {"tubingPressure": 3000}},
        SPAN,
        steps,
        "org.acme:producer-well:1.0.0",
    )


STEPS = (
    Step(0, K.SET, path=TUBING, value=2500.0),
    Step(0, K.SET, path=OIL, value=100.0),
    Step(0, K.SET, path=WATER, value=50.0),
    Step(1, K.EXPECT_VALUE, path=LIQUID, value=150.0),
    Step(10, K.SET, path=TUBING, value=3200.0),
    Step(39, K.EXPECT_ALARM, name="HighTubingPressure", state="normal"),
    Step(40, K.EXPECT_ALARM, name="HighTubingPressure", state="active"),
    Step(41, K.ACK, name="HighTubingPressure"),
    Step(42, K.EXPECT_ALARM, name="HighTubingPressure", state="acked"),
    Step(50, K.SHELVE, name="HighTubingPressure", duration=60.0),
    Step(51, K.EXPECT_ALARM, name="HighTubingPressure", state="shelved"),
    Step(111, K.EXPECT_ALARM, name="HighTubingPressure", state="active"),
)


def test_passing_test_block() -> None:
    result = run_test(well_program(), _spec(*STEPS))
    assert result.error is None
    assert result.passed, result.diff()
    assert result.expected == result.actual
    assert any("normal -> active-unacknowledged" in line for line in result.timeline)


def test_failing_test_block_shows_expected_vs_actual() -> None:
    wrong = replace(STEPS[5], state="active")  # the on-delay has not elapsed yet at 39 s
    result = run_test(well_program(), _spec(*STEPS[:5], wrong, *STEPS[6:]))
    assert not result.passed
    diff = result.diff()
    assert "-     39s alarm HighTubingPressure is active" in diff
    assert "+     39s alarm HighTubingPressure is normal" in diff


def test_unknown_class_is_reported() -> None:
    result = run_test(well_program(), replace(_spec(*STEPS), twin_class="Pump"))
    assert not result.passed and "Pump" in (result.error or "")
