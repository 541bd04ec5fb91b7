"""Runs `test` blocks of `.rules` files on virtual time and reports expected vs actual timelines."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from centinela.dsl.program import MISSING, Program, TestSpec, TestStep, TestStepKind
from centinela.errors import CentinelaError
from centinela.rules.alarms import Action, ActionKind, AlarmState
from centinela.rules.engine import Engine
from centinela.rules.output import StepOutput

__all__ = ["STATE_NAMES", "TestResult", "run_test", "run_tests"]

START = 0.0
STATE_NAMES: dict[str, AlarmState] = {
    "normal": AlarmState.NORMAL,
    "active": AlarmState.UNACK,
    "unack": AlarmState.UNACK,
    "unacked": AlarmState.UNACK,
    "acked": AlarmState.ACKED,
    "rtn_unack": AlarmState.RTN_UNACK,
    "returned": AlarmState.RTN_UNACK,
    "shelved": AlarmState.SHELVED,
    "suppressed": AlarmState.SUPPRESSED,
    "out_of_service": AlarmState.OUT_OF_SERVICE,
    **{s.value: s for s in AlarmState},
}
_SHORT = {
    AlarmState.UNACK: "active",
    AlarmState.ACKED: "acked",
    AlarmState.RTN_UNACK: "rtn_unack",
    AlarmState.OUT_OF_SERVICE: "out_of_service",
}


@dataclass(slots=True)
class TestResult:
    __test__ = False  # not a pytest class

    name: str
    where: str
    passed: bool
    expected: list[str] = field(default_factory=list)
    actual: list[str] = field(default_factory=list)
    timeline: list[str] = field(default_factory=list)
    error: str | None = None

    def diff(self) -> str:
        lines = difflib.unified_diff(self.expected, self.actual, "expected", "actual", lineterm="")
        return "\n".join(lines)


def _short(state: AlarmState) -> str:
    return _SHORT.get(state, state.value)


def _fmt_time(t: float) -> str:
    return f"{t - START:>7g}s"


def _expectation(step: TestStep, engine: Engine, thing_id: str) -> tuple[str, str]:
    """(expected line, actual line) of one `expect` step."""
    ctxs = engine.contexts.get(thing_id, [])
    at = _fmt_time(step.at)
    if step.kind is TestStepKind.EXPECT_ALARM and step.state == "chattering":
        flagged = any(c.alarms[step.name].chattering for c in ctxs if step.name in c.alarms)
        return (
            f"{at} alarm {step.name} is chattering",
            f"{at} alarm {step.name} is {'' if flagged else 'not '}chattering",
        )
    if step.kind is TestStepKind.EXPECT_ALARM:
        want = STATE_NAMES.get(str(step.state))
        if want is None:
            msg = f"The test expects alarm {step.name} in an unknown state {step.state!r}."
            raise CentinelaError(msg)
        have = next((c.alarms[step.name].state for c in ctxs if step.name in c.alarms), AlarmState.NORMAL)
        return f"{at} alarm {step.name} is {_short(want)}", f"{at} alarm {step.name} is {_short(have)}"
    path = str(step.path)
    value = next((c.values[path] for c in ctxs if c.values.get(path, MISSING) is not MISSING), MISSING)
    want_text = f"{at} value {step.path} == {step.value!r}"
    if step.tolerance:
        want_text += f" ± {step.tolerance:g}"
    if _close(value, step.value, step.tolerance):
        return want_text, want_text
    return want_text, f"{at} value {step.path} == {value!r}"


def _close(have: Any, want: Any, tol: float) -> bool:
    if isinstance(have, int | float) and isinstance(want, int | float) and not isinstance(have, bool):
        return abs(have - want) <= max(tol, 1e-9 * max(abs(want), 1.0))
    return bool(have == want)


def run_test(program: Program, spec: TestSpec) -> TestResult:
    """Run one test block: bind a thing to its class, replay its timeline, check each expectation."""
    result = TestResult(spec.name, str(spec.span), passed=True)
    cls = program.classes.get(spec.twin_class)
    if cls is None:
        result.passed, result.error = False, f"The test names an unknown twin class {spec.twin_class!r}."
        return result
    engine = Engine(Program(program.namespace, {cls.name: cls}, (), program.files), record_readings=False)
    thing = {"thingId": spec.thing_id, "definition": spec.definition, "attributes": dict(spec.attributes)}
    out = StepOutput()
    engine.bind(thing, START, out, force=True)
    for step in sorted(spec.steps, key=lambda s: s.at):  # stable: same-time steps keep their order
        now = START + step.at
        engine.advance(now, out)
        try:
            if step.kind is TestStepKind.SET:
                engine.ingest_change(spec.thing_id, str(step.path), step.value, now, out, merge=False)
            elif step.kind in (TestStepKind.ACK, TestStepKind.SHELVE, TestStepKind.UNSHELVE):
                kind = {
                    TestStepKind.ACK: ActionKind.ACK,
                    TestStepKind.SHELVE: ActionKind.SHELVE,
                    TestStepKind.UNSHELVE: ActionKind.UNSHELVE,
                }[step.kind]
                until = now + step.duration if step.duration is not None else None
                engine.act(spec.thing_id, str(step.name), Action(kind, until=until), now, out)
            else:
                want, have = _expectation(step, engine, spec.thing_id)
                result.expected.append(want)
                result.actual.append(have)
                result.passed = result.passed and want == have
        except CentinelaError as exc:
            result.passed, result.error = False, f"{step.span or spec.span}: {exc}"
            break
    result.timeline = [
        f"{_fmt_time(a.time)} alarm {a.rule} {a.previous} -> {a.state} ({a.cause}) {a.explanation}"
        for a in out.alarms
    ]
    return result


def run_tests(program: Program) -> list[TestResult]:
    return [run_test(program, spec) for spec in program.tests]
