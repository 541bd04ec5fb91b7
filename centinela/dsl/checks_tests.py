"""Checks of `test` blocks: the thing, its attributes and a timeline of inputs, expectations and actions."""

from __future__ import annotations

import difflib
from types import MappingProxyType

from centinela.dsl import ast
from centinela.dsl import units as U
from centinela.dsl.checked import CheckedClass
from centinela.dsl.checks_class import ClassDecls
from centinela.dsl.diagnostics import Diagnostic, Span
from centinela.dsl.paths import PathError, resolve_path
from centinela.dsl.program import NodeKind, TestSpec, TestStep, TestStepKind

__all__ = ["ALARM_STATES", "check_test"]

ALARM_STATES = (
    "normal",
    "active",
    "acked",
    "unacked",
    "rtn_unack",
    "shelved",
    "suppressed",
    "out_of_service",
)
_KINDS = {
    "set": TestStepKind.SET, "expect_value": TestStepKind.EXPECT_VALUE,
    "expect_alarm": TestStepKind.EXPECT_ALARM, "ack": TestStepKind.ACK, "shelve": TestStepKind.SHELVE,
    "unshelve": TestStepKind.UNSHELVE,
}  # fmt: skip


def check_test(
    t: ast.TestDecl, cls: CheckedClass, decls: ClassDecls, namespace: str | None, out: list[Diagnostic]
) -> TestSpec | None:
    """Check one test block; returns its spec when it has no error."""
    before = len(out)

    def diag(code: str, message: str, span: Span, hint: str | None = None) -> None:
        out.append(Diagnostic(code, message, span, hint))

    if t.thing_id is None:
        diag(
            "E070",
            f"The test '{t.name}' does not say which thing it runs on.",
            t.span,
            'add `thing "namespace:name"`',
        )
    alarms = {n.name for n in cls.nodes if n.kind is NodeKind.ALARM}
    values = {n.key for n in cls.nodes if n.kind in (NodeKind.COMPUTE, NodeKind.LET)}
    input_units = {k: U.parse_unit(e.unit) for e in decls.units for k in _keys(e) if _unit_ok(e.unit)}
    computed_units = {n.key: n.unit for n in cls.nodes}
    steps: list[TestStep] = []
    last = 0.0
    for s in t.steps:
        if s.at < last:
            diag(
                "E075",
                f"The step at {s.at:g} s of test '{t.name}' comes after a step at {last:g} s.",
                s.span,
                "order the `at` lines by time",
            )
        last = max(last, s.at)
        if s.name is not None and s.kind != "expect_value" and s.name not in alarms:
            near = difflib.get_close_matches(s.name, sorted(alarms), n=1)
            diag(
                "E071",
                f"The test '{t.name}' names the alarm {s.name}, which {cls.name} does not have.",
                s.span,
                f"did you mean '{near[0]}'?"
                if near
                else f"alarms of {cls.name}: {', '.join(sorted(alarms))}",
            )
            continue
        if s.kind == "expect_alarm" and s.value not in ALARM_STATES:
            near = difflib.get_close_matches(str(s.value), ALARM_STATES, n=1)
            diag(
                "E072",
                f"'{s.value}' is not an alarm state.",
                s.span,
                (f"did you mean '{near[0]}'? " if near else "") + "states: " + ", ".join(ALARM_STATES),
            )
            continue
        key = None
        value = s.value
        if s.path is not None:
            try:
                key = resolve_path(s.path, frozenset(decls.lets)).key
            except PathError as exc:
                diag(exc.code, str(exc), s.path.span, exc.hint)
                continue
            if s.kind == "set" and (key.startswith(("let:", "thing:")) or key in values):
                diag(
                    "E073",
                    f"The test '{t.name}' sets '{s.path.text}', which is not an input.",
                    s.path.span,
                    "set feature properties or attributes; computed values and lets follow from them",
                )
                continue
            if s.kind == "expect_value" and key not in values:
                diag(
                    "E073",
                    f"The test '{t.name}' expects '{s.path.text}', which no compute or let of "
                    f"{cls.name} produces.",
                    s.path.span,
                )
                continue
            target = input_units.get(key) if s.kind == "set" else computed_units.get(key)
            if s.unit is not None and isinstance(value, float):
                try:
                    unit = U.parse_unit(s.unit)
                except U.UnitError as exc:
                    diag("E030", str(exc), s.span)
                    continue
                if target is not None:
                    if not U.compatible(unit, target):
                        diag(
                            "E031",
                            f"The value {value:g} {unit} cannot be converted to '{target}', the unit of "
                            f"'{s.path.text}'.",
                            s.span,
                        )
                        continue
                    scale, offset = U.conversion(unit, target)
                    value = value * scale + offset
        steps.append(
            TestStep(
                s.at,
                _KINDS[s.kind],
                key,
                s.name,
                value,
                str(s.value) if s.kind == "expect_alarm" else None,
                s.tolerance or 0.0,
                s.duration,
                s.span,
            )
        )
    if len(out) > before or t.thing_id is None:
        return None
    thing_id = t.thing_id if ":" in t.thing_id or namespace is None else f"{namespace}:{t.thing_id}"
    return TestSpec(
        t.name,
        cls.name,
        thing_id,
        MappingProxyType(dict(t.attributes or {})),
        t.span,
        tuple(steps),
        cls.definition,
    )


def _keys(entry: ast.UnitEntry) -> list[str]:
    keys = []
    for p in entry.paths:
        try:
            keys.append(resolve_path(p, frozenset()).key)
        except PathError:
            continue
    return keys


def _unit_ok(text: str) -> bool:
    try:
        U.parse_unit(text)
    except U.UnitError:
        return False
    return True
