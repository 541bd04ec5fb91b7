"""Compiled rules: values, MISSING propagation, three-valued logic, fused triggers, folded unit factors."""

from __future__ import annotations

import math

import pytest
from dsl_memory_context import MemoryContext

from centinela.dsl import compile_source
from centinela.dsl.program import ALL, MISSING, TIME, EvalError, MissingPolicy, NodeKind, Operand, Severity

WELL = """
twins Well = definition "org.acme:producer-well:1.*"
units Well {
    pressure.tubing : psi
    flow.oilRate, flow.waterRate : bbl/d
    flow.gasRate : Mscf/d
}
let Well.limit = attributes.limits.tubingPressure ?? 3000 psi
compute Well production.liquidRate : bbl/d = flow.oilRate + flow.waterRate
compute Well production.waterCut : % =
    if production.liquidRate > 0 then flow.waterRate / production.liquidRate else 0
compute Well production.gor : scf/bbl = flow.gasRate / flow.oilRate
alarm Well High severity critical when pressure.tubing > limit for 30s
    clear when pressure.tubing < limit - 100 psi for 10s
"""
TUBING = "/features/pressure/properties/tubing"
OIL = "/features/flow/properties/oilRate"
WATER = "/features/flow/properties/waterRate"
GAS = "/features/flow/properties/gasRate"


def results(cls, ctx, key=ALL):
    return {cls.nodes[i].name: v for i, v in cls.triggers[key](ctx)}


def test_values_and_unit_factors_are_folded() -> None:
    cls = compile_source(WELL).classes["Well"]
    ctx = MemoryContext({OIL: 1000.0, WATER: 500.0, GAS: 800.0, TUBING: 2900.0})
    out = results(cls, ctx)
    assert out["production.liquidRate"] == 1500.0
    assert out["production.waterCut"] == pytest.approx(100 * 500 / 1500)
    assert out["production.gor"] == pytest.approx(800.0)  # 800 Mscf/d / 1000 bbl/d = 800 scf/bbl
    assert out["High"] is False
    assert ctx.values["/features/production/properties/liquidRate"] == 1500.0
    assert ctx.values["let:limit"] == 3000.0
    source = cls.source["module"]
    assert "100.0" in source and "1000.0" in source  # % and Mscf→scf factors are constants in the code
    assert "conversion" not in source and "pint" not in source


def test_missing_propagates_and_coalesce_replaces_it() -> None:
    cls = compile_source(WELL).classes["Well"]
    ctx = MemoryContext({WATER: 500.0, TUBING: 3100.0})
    out = results(cls, ctx)
    assert out["production.liquidRate"] is MISSING
    assert out["production.waterCut"] is MISSING
    assert "/features/production/properties/liquidRate" not in ctx.values
    assert out["High"] is True  # limit falls back to 3000 psi
    ctx.values["/attributes/limits/tubingPressure"] = 3200.0
    assert results(cls, ctx)["High"] is False


def test_trigger_evaluates_only_dependents_in_order() -> None:
    cls = compile_source(WELL).classes["Well"]
    ctx = MemoryContext({OIL: 1000.0, WATER: 0.0, GAS: 100.0, TUBING: 10.0})
    results(cls, ctx)
    names = [cls.nodes[i].name for i, _ in cls.triggers[WATER](ctx)]
    assert names == ["production.liquidRate", "production.waterCut"]
    names = [cls.nodes[i].name for i, _ in cls.triggers[TUBING](ctx)]
    assert names == ["High"]
    assert set(cls.triggers) >= {ALL, TIME, OIL, WATER, GAS, TUBING, "/attributes/limits/tubingPressure"}


def test_dependency_order_is_topological_even_when_declared_backwards() -> None:
    src = """
    twins T = things "x:*"
    compute T a.c = a.b * 2
    compute T a.b = a.a + 1
    """
    cls = compile_source(src).classes["T"]
    assert [n.name for n in cls.nodes] == ["a.b", "a.c"]
    ctx = MemoryContext({"/features/a/properties/a": 1.0})
    assert results(cls, ctx, "/features/a/properties/a") == {"a.b": 2.0, "a.c": 4.0}


def test_division_by_zero_is_the_rules_health_not_a_crash() -> None:
    cls = compile_source(WELL).classes["Well"]
    ctx = MemoryContext({OIL: 0.0, WATER: 5.0, GAS: 1.0, TUBING: 1.0})
    out = results(cls, ctx)
    assert isinstance(out["production.gor"], EvalError)
    assert "ZeroDivisionError" in out["production.gor"].error
    assert out["production.liquidRate"] == 5.0  # the rest continue


@pytest.mark.parametrize(
    ("a", "b", "and_", "or_"),
    [
        (True, True, True, True),
        (True, False, False, True),
        (False, None, False, MISSING),
        (None, False, False, MISSING),
        (True, None, MISSING, True),
        (None, True, MISSING, True),
        (None, None, MISSING, MISSING),
        (False, False, False, False),
    ],
)
def test_three_valued_logic(a, b, and_, or_) -> None:
    src = """
    twins T = things "x:*"
    compute T o.and = (i.a > 0) and (i.b > 0)
    compute T o.or = (i.a > 0) or (i.b > 0)
    """
    cls = compile_source(src).classes["T"]
    values = {}
    for name, v in (("a", a), ("b", b)):
        if v is not None:
            values[f"/features/i/properties/{name}"] = 1.0 if v else -1.0
    out = results(cls, MemoryContext(values))
    assert out["o.and"] is and_
    assert out["o.or"] is or_


def test_math_functions_in_and_strings() -> None:
    src = """
    twins T = things "x:*"
    compute T o.a = clamp(abs(i.x) + sqrt(16) + round(2.6) + floor(1.5) + ceil(1.2), 0, 100)
    compute T o.b = ln(exp(2)) + log10(1000) + max(i.x, 3, 1) + min(i.x, 3)
    compute T o.c = i.s in ["on", "running"] and i.s not in ["off"]
    compute T o.d = if thing.name == "w1" then 1 else 2
    compute T o.e = i.x ** 2 % 7
    """
    cls = compile_source(src).classes["T"]
    ctx = MemoryContext(
        {"/features/i/properties/x": -2.0, "/features/i/properties/s": "on", "thing:name": "w1"}
    )
    out = results(cls, ctx)
    assert out["o.a"] == 2 + 4 + 3 + 1 + 2
    assert out["o.b"] == pytest.approx(2 + 3 + 3 - 2)
    assert out["o.c"] is True
    assert out["o.d"] == 1
    assert out["o.e"] == 4 % 7
    assert math.isfinite(out["o.b"])


def test_windows_call_the_series_and_derived_series_are_fed() -> None:
    src = """
    twins T = things "x:*"
    units T { i.p : psi  i.v : bbl }
    compute T o.avg : psi = avg(i.p, 1m)
    compute T o.rate : bbl/min = rate(i.v, 1m)
    compute T o.sum = sum(i.p * 2, 1m)
    alarm T Rising when rising(i.p > 10)
    """
    cls = compile_source(src).classes["T"]
    ctx = MemoryContext()
    for t, p, v in ((0.0, 5.0, 100.0), (30.0, 15.0, 130.0)):
        ctx.set("/features/i/properties/p", p, t)
        ctx.set("/features/i/properties/v", v, t)
        out = results(cls, ctx)
    assert out["o.avg"] == 10.0
    assert out["o.rate"] == pytest.approx(60.0)  # 30 bbl in 30 s = 60 bbl/min
    assert out["o.sum"] == 40.0  # derived series (i.p * 2) holds 10 and 30
    assert out["Rising"] is True
    specs = {s.key: s for s in cls.series}
    assert specs["/features/i/properties/p"].path == "/features/i/properties/p"
    assert specs["/features/i/properties/p"].horizon == 60.0
    assert any(k.startswith("expr:") and s.path is None for k, s in specs.items())
    timed = {cls.nodes[i].name for i in cls.timed}
    assert {"o.avg", "o.rate", "o.sum"} <= timed and "Rising" not in timed


def test_alarm_spec_clear_explain_and_message() -> None:
    src = (
        WELL
        + """
    alarm Well Msg severity warning when pressure.tubing > limit on missing raise latch chatter 3 in 10m
        message "P {{ value | round(1) }} on {{ thing.id }} limit {{ limit }}"
    alarm Well Band severity low when pressure.tubing > 100 psi deadband 10 psi
    """
    )
    cls = compile_source(src).classes["Well"]
    by = {n.name: n for n in cls.nodes}
    high = by["High"]
    assert high.kind is NodeKind.ALARM and high.alarm is not None
    assert (
        high.alarm.severity is Severity.CRITICAL and high.alarm.on_delay == 30 and high.alarm.off_delay == 10
    )
    ctx = MemoryContext({TUBING: 2950.0, "let:limit": 3000.0})
    assert high.alarm.clear is not None and high.alarm.clear(ctx) is False
    ctx.values[TUBING] = 2850.0
    assert high.alarm.clear(ctx) is True
    ops = high.alarm.explain(ctx)
    assert ops == (Operand("pressure.tubing", 2850.0, "psi"), Operand("limit", 3000.0, "psi"))
    msg = by["Msg"].alarm
    assert msg is not None and msg.severity is Severity.MEDIUM and msg.latch and msg.chatter == (3, 600.0)
    assert msg.on_missing is MissingPolicy.RAISE
    assert msg.message is not None
    assert (
        msg.message({"value": 3104.26, "thing": {"id": "w:1"}, "limit": 3000}) == "P 3104.3 on w:1 limit 3000"
    )
    band = by["Band"].alarm
    assert band is not None and band.deadband == 10.0 and band.clear is not None
    assert band.clear(MemoryContext({TUBING: 95.0})) is False
    assert band.clear(MemoryContext({TUBING: 89.0})) is True
    assert high.version != by["Msg"].version and len(high.version) == 16


def test_where_filter_is_compiled() -> None:
    cls = compile_source('twins R = things "r:*" where attributes.active == true').classes["R"]
    assert cls.id_glob == "r:*" and cls.where is not None
    assert cls.where(MemoryContext({"/attributes/active": True})) is True
    assert cls.where(MemoryContext({})) is MISSING


def test_generated_code_runs_without_builtins() -> None:
    cls = compile_source(WELL).classes["Well"]
    assert "__builtins__" not in cls.source["module"]
    fn = cls.triggers[ALL]
    assert fn.__globals__["__builtins__"] == {}


def test_examples_compile_every_function_eagerly() -> None:
    from pathlib import Path

    from centinela.dsl.compile import compile_checked
    from centinela.dsl.pipeline import check_paths

    root = Path(__file__).resolve().parents[3] / "examples"
    result = check_paths([root])
    assert result.errors == ()
    program = compile_checked(result.checked, eager=True)
    assert {"Well", "Rig", "EspWell", "GasLiftWell"} <= set(program.classes)
    assert len(program.tests) >= 4
    for cls in program.classes.values():
        ctx = MemoryContext({"thing:id": "org.acme.wells:well-01"}, now=100.0)
        out = cls.triggers[ALL](ctx)
        assert [i for i, _ in out] == list(range(len(cls.nodes)))
        assert not any(isinstance(v, EvalError) for _, v in out), out


def test_functions_are_compiled_once_on_first_use() -> None:
    cls = compile_source(WELL).classes["Well"]
    first = cls.triggers[OIL]
    assert cls.triggers[OIL] is first
    shared = compile_source('twins T = things "x:*"\ncompute T o.a = i.x + i.y\n').classes["T"]
    assert shared.triggers["/features/i/properties/x"] is shared.triggers["/features/i/properties/y"]
    assert shared.triggers[ALL] is shared.triggers["/features/i/properties/x"]  # same single node


def test_time_trigger_and_single_node_functions() -> None:
    src = """
    twins T = things "x:*"
    compute T o.age = age(i.p)
    compute T o.twice = o.age * 2
    compute T o.plain = i.q + 1
    alarm T Stale when stale(i.p, 1m)
    """
    cls = compile_source(src).classes["T"]
    ctx = MemoryContext()
    ctx.set("/features/i/properties/p", 1.0, now=10.0)
    ctx.values["/features/i/properties/q"] = 4.0
    ctx.now = 100.0
    out = results(cls, ctx, TIME)
    assert out == {"o.age": 90.0, "o.twice": 180.0, "Stale": True}  # o.plain does not depend on time
    by = {n.name: n for n in cls.nodes}
    assert by["o.plain"].fn(ctx) == 5.0
    assert by["o.twice"].fn(ctx) == 180.0  # reads o.age from ctx.values
    assert "/features/o/properties/plain" not in ctx.values  # a node function only computes
