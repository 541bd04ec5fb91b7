"""Hand-written compiled programs for engine tests: the shape the DSL compiler produces, built in Python."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from centinela.dsl.diagnostics import Span
from centinela.dsl.program import (
    ALL,
    MISSING,
    AlarmSpec,
    EvalContext,
    EvalError,
    MissingPolicy,
    Node,
    NodeKind,
    Operand,
    Program,
    SeriesSpec,
    Severity,
    TwinClass,
)

SPAN = Span("handmade.rules", 1, 1, 1, 2)
TUBING = "/features/pressure/properties/tubing"
OIL = "/features/flow/properties/oilRate"
WATER = "/features/flow/properties/waterRate"
LIMIT = "/attributes/limits/tubingPressure"
LIQUID = "/features/production/properties/liquidRate"
CUT = "/features/production/properties/waterCut"


def node(
    kind: NodeKind,
    name: str,
    key: str,
    reads: set[str],
    fn: Callable[[EvalContext], Any],
    alarm: AlarmSpec | None = None,
) -> Node:
    return Node(kind, name, key, frozenset(reads), fn, None, SPAN, f"v1-{name}", alarm)


def alarm_spec(severity: Severity = Severity.CRITICAL, **kw: Any) -> AlarmSpec:
    base: dict[str, Any] = {
        "severity": severity,
        "on_delay": 0.0,
        "clear": None,
        "off_delay": 0.0,
        "latch": False,
        "suppress": None,
        "on_missing": MissingPolicy.HOLD,
        "message": None,
        "explain": lambda ctx: (),
        "chatter": None,
    }
    base.update(kw)
    return AlarmSpec(**base)


def make_class(
    name: str,
    nodes: list[Node],
    inputs: set[str],
    series: list[SeriesSpec] = (),  # type: ignore[assignment]
    timed: tuple[int, ...] = (),
    definition: str | None = None,
    id_glob: str | None = None,
) -> TwinClass:
    """Build fused triggers the simple way: every node depending transitively on the key, in order."""

    def dependents(key: str) -> list[int]:
        changed = {key}
        picked = []
        for i, n in enumerate(nodes):
            if key == ALL or n.reads & changed:
                picked.append(i)
                changed.add(n.key)
        return picked

    def trigger_for(indices: list[int]) -> Callable[[EvalContext], list[tuple[int, Any]]]:
        def run(ctx: EvalContext) -> list[tuple[int, Any]]:
            results: list[tuple[int, Any]] = []
            for i in indices:
                n = nodes[i]
                try:
                    value = n.fn(ctx)
                except Exception as exc:  # noqa: BLE001
                    results.append((i, EvalError(n.name, f"{type(exc).__name__}: {exc}")))
                    ctx.values[n.key] = MISSING
                    continue
                if n.kind is not NodeKind.ALARM:
                    ctx.values[n.key] = value
                results.append((i, value))
            return results

        return run

    keys = set(inputs) | {n.key for n in nodes} | {ALL}
    triggers = {k: trigger_for(dependents(k)) for k in keys if dependents(k)}
    return TwinClass(
        name, definition, id_glob, None, tuple(nodes), tuple(series), frozenset(inputs), triggers, timed
    )


def _num(ctx: EvalContext, key: str) -> Any:
    return ctx.values.get(key, MISSING)


def well_program(on_delay: float = 30.0, stale_after: float = 300.0) -> Program:
    """The demo well's rules: a limit, two computes, a delayed alarm with hysteresis, a stale alarm."""

    def limit(ctx: EvalContext) -> Any:
        v = _num(ctx, LIMIT)
        return 3000.0 if v is MISSING else v

    def liquid(ctx: EvalContext) -> Any:
        a, b = _num(ctx, OIL), _num(ctx, WATER)
        return MISSING if a is MISSING or b is MISSING else a + b

    def cut(ctx: EvalContext) -> Any:
        q, w = _num(ctx, LIQUID), _num(ctx, WATER)
        if q is MISSING or w is MISSING:
            return MISSING
        return 100.0 * w / q  # raises ZeroDivisionError when liquid is zero: rule health

    def high(ctx: EvalContext) -> Any:
        p = _num(ctx, TUBING)
        return MISSING if p is MISSING else p > ctx.values["let:limit"]

    def high_clear(ctx: EvalContext) -> Any:
        p = _num(ctx, TUBING)
        return MISSING if p is MISSING else p < ctx.values["let:limit"] - 100

    def explain(ctx: EvalContext) -> tuple[Operand, ...]:
        return (
            Operand("pressure.tubing", _num(ctx, TUBING), "psi"),
            Operand("tubingLimit", ctx.values.get("let:limit", MISSING), "psi"),
        )

    def message(scope: Any) -> str:
        return f"Tubing pressure {scope['value']} psi on {scope['thing']['id']} (limit {scope['limit']})"

    nodes = [
        node(NodeKind.LET, "limit", "let:limit", {LIMIT}, limit),
        node(NodeKind.COMPUTE, "liquidRate", LIQUID, {OIL, WATER}, liquid),
        node(NodeKind.COMPUTE, "waterCut", CUT, {LIQUID, WATER}, cut),
        node(
            NodeKind.ALARM,
            "HighTubingPressure",
            "alarm:HighTubingPressure",
            {TUBING, "let:limit"},
            high,
            alarm_spec(on_delay=on_delay, clear=high_clear, off_delay=10.0, explain=explain, message=message),
        ),
        node(
            NodeKind.ALARM,
            "NoData",
            "alarm:NoData",
            {TUBING},
            lambda ctx: ctx.series(TUBING).stale(ctx.now, stale_after),
            alarm_spec(
                Severity.MEDIUM, explain=lambda ctx: (Operand("age", ctx.series(TUBING).age(ctx.now), "s"),)
            ),
        ),
    ]
    cls = make_class(
        "Well",
        nodes,
        {TUBING, OIL, WATER, LIMIT},
        [SeriesSpec(TUBING, TUBING, 0.0)],
        timed=(4,),
        definition="org.acme:producer-well:1.*",
    )
    return Program("org.acme.wells", {"Well": cls}, (), ("handmade.rules",))


def well_thing(thing_id: str = "org.acme.wells:well-01", tubing: float = 2500.0) -> dict[str, Any]:
    return {
        "thingId": thing_id,
        "definition": "org.acme:producer-well:1.0.0",
        "attributes": {"status": "producing", "limits": {"tubingPressure": 3000}},
        "features": {
            "pressure": {"properties": {"tubing": tubing}},
            "flow": {"properties": {"oilRate": 800.0, "waterRate": 200.0}},
        },
    }
