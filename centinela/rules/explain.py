"""Explaining alarm transitions: deterministic ids, operands, rendered messages, the alarm feature.

Enum members are read through `_value_` (the plain attribute behind `.value`, without its descriptor call).
"""

from __future__ import annotations

import hashlib
from typing import Any

from centinela.dsl.program import MISSING, Node
from centinela.rules.alarms import AlarmStatus, Transition
from centinela.rules.context import ThingContext
from centinela.rules.output import AlarmEvent

__all__ = ["alarm_feature_value", "render_message", "transition_event"]

_new = object.__new__
_sha256 = hashlib.sha256
# `AlarmEvent` filled through its slots' own setters: a frozen `__init__` sets each of 17 fields slowly.
_SET = tuple(AlarmEvent.__dict__[name].__set__ for name in AlarmEvent.__slots__)
_id, _time, _rule, _thing, _class, _sev, _prev, _state, _cause = _SET[:9]
_active, _latched, _chat, _value, _msg, _expl, _ops, _ver = _SET[9:]


def alarm_feature_value(status: AlarmStatus, node: Node, last: AlarmEvent | None) -> dict[str, Any]:
    """The alarm state as written to `features/alarms/properties/<Rule>` (documented in docs/engine.md)."""
    assert node.alarm is not None
    return {
        "state": status.state._value_,
        "active": status.active,
        "severity": node.alarm.severity._value_,
        "since": status.since,
        "latched": status.latched,
        "chattering": status.chattering,
        "shelvedUntil": status.shelved_until,
        "outOfService": status.out_of_service,
        "suppressed": status.suppressed,
        "lastTransition": None if last is None else last.id,
        "message": None if last is None else last.message,
    }


def transition_event(ctx: ThingContext, node: Node, tr: Transition, value: Any) -> AlarmEvent:
    """The full record of one transition: deterministic id, explanation, rendered message."""
    spec = node.alarm
    assert spec is not None
    seed = f"{node.version}|{ctx.thing_id}|{node.name}|{tr.time!r}|{tr.cause._value_}|{tr.state._value_}"
    alarm_id = _sha256(seed.encode()).hexdigest()[:24]
    try:
        operands = tuple([_operand(o.text, o.value, o.unit) for o in spec.explain(ctx)])
    except Exception as exc:  # noqa: BLE001 - an explanation must never lose the transition
        operands = ({"text": "explanation failed", "value": str(exc), "unit": None},)
    explanation = ", ".join([_part(o) for o in operands])
    if spec.on_delay and tr.cause._value_ == "raised":
        explanation += f" for {spec.on_delay:g} s (held since {tr.time - spec.on_delay:.3f})"
    if (value is MISSING or isinstance(value, bool)) and operands:
        value = operands[0]["value"]
    message = render_message(ctx, node, tr, value, explanation)
    event = _new(AlarmEvent)
    _id(event, alarm_id)
    _time(event, tr.time)
    _rule(event, node.name)
    _thing(event, ctx.thing_id)
    _class(event, ctx.twin_class.name)
    _sev(event, spec.severity._value_)
    _prev(event, tr.previous._value_)
    _state(event, tr.state._value_)
    _cause(event, tr.cause._value_)
    _active(event, tr.active)
    _latched(event, tr.latched)
    _chat(event, tr.chattering)
    _value(event, None if value is MISSING else value)
    _msg(event, message)
    _expl(event, explanation)
    _ops(event, operands)
    _ver(event, node.version)
    return event


def render_message(ctx: ThingContext, node: Node, tr: Transition, value: Any, explanation: str) -> str:
    """The rule's sandboxed template with `value`, `thing`, the lets and the explanation in scope."""
    spec = node.alarm
    assert spec is not None
    if spec.message is None:
        return f"{node.name} {tr.state._value_} on {ctx.thing_id}: {explanation}"
    scope: dict[str, Any] = {k[4:]: v for k, v in ctx.values.items() if k.startswith("let:")}
    namespace, _, name = ctx.thing_id.partition(":")
    scope.update(
        value=value,
        thing={"id": ctx.thing_id, "namespace": namespace, "name": name},
        explanation=explanation,
        state=tr.state._value_,
        rule=node.name,
        severity=spec.severity._value_,
    )
    try:
        return spec.message(scope)
    except Exception as exc:  # noqa: BLE001 - a broken template still reports the alarm
        return f"{node.name} {tr.state._value_} on {ctx.thing_id} (message failed: {exc})"


def _operand(text: str, value: Any, unit: str | None) -> dict[str, Any]:
    return {"text": text, "value": None if value is MISSING else value, "unit": unit}


def _part(o: dict[str, Any]) -> str:
    value, unit = o["value"], o["unit"]
    shown = f"{value:.6g}" if value.__class__ is float else _fmt(value)
    return f"{o['text']} = {shown} {unit}" if unit else f"{o['text']} = {shown}"


def _fmt(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)
