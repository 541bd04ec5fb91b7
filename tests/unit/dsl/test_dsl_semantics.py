"""Edge semantics of compiled expressions: rounding, real powers, `in` over missing, temperature units."""

from __future__ import annotations

import pytest
from dsl_memory_context import MemoryContext

from centinela.dsl import check_source, compile_source
from centinela.dsl import units as U
from centinela.dsl.program import ALL, MISSING, EvalError

HEAD = """
twins T = things "x:*"
units T { t.motor : degF  t.ambient : degC  i.p : psi }
"""
X, Y = "/features/i/properties/x", "/features/i/properties/y"
MOTOR = "/features/t/properties/motor"


def evaluate(expr: str, values: dict[str, float], unit: str = "") -> object:
    declared = f" : {unit}" if unit else ""
    cls = compile_source(HEAD + f"compute T o.r{declared} = {expr}\n").classes["T"]
    out = {cls.nodes[i].name: v for i, v in cls.triggers[ALL](MemoryContext(dict(values)))}
    return out["o.r"]


def codes(expr: str, unit: str = "") -> list[str]:
    declared = f" : {unit}" if unit else ""
    return [d.code for d in check_source(HEAD + f"compute T o.r{declared} = {expr}\n").errors]


@pytest.mark.parametrize(
    ("expr", "expected"),
    [("round(i.x, 1)", 2.5), ("round(i.x, i.y)", 2.5), ("round(i.x)", 2), ("round(i.x, 0)", 2.0)],
)
def test_round_takes_digits_that_arrive_as_floats(expr: str, expected: float) -> None:
    assert evaluate(expr, {X: 2.46, Y: 1.0}) == expected


def test_round_digits_must_be_plain() -> None:
    assert codes("round(i.x, i.p)") == ["E034"]


@pytest.mark.parametrize(("x", "y"), [(-8.0, 0.5), (-8.0, 1 / 3), (0.0, -1.0)])
def test_power_without_a_real_value_is_the_rules_health_never_a_complex(x: float, y: float) -> None:
    out = evaluate("i.x ** i.y", {X: x, Y: y})
    assert isinstance(out, EvalError)
    assert "ValueError" in out.error


def test_power_of_constants_is_never_folded_to_a_complex() -> None:
    out = evaluate("(-8) ** (1 / 3)", {})
    assert isinstance(out, EvalError)
    assert evaluate("i.x ** 2", {X: -3.0}) == 9.0


@pytest.mark.parametrize(
    ("expr", "values", "expected"),
    [
        ("i.x in [i.y, 2]", {X: 1.0}, MISSING),  # x might equal the missing y
        ("i.x not in [i.y, 2]", {X: 1.0}, MISSING),
        ("i.x in [i.y, 2]", {X: 1.0, Y: 1.0}, True),
        ("i.x not in [i.y, 2]", {X: 3.0, Y: 1.0}, True),
        ("i.x in [1, 2]", {}, MISSING),
    ],
)
def test_in_over_a_missing_option_is_missing(expr: str, values: dict[str, float], expected: object) -> None:
    assert evaluate(expr, values) is expected


def test_in_an_empty_list_is_a_diagnostic_not_a_crash() -> None:
    assert codes("i.x in []") == ["E020"]


def test_change_and_spread_of_a_temperature_are_differences() -> None:
    cls = compile_source(
        HEAD
        + "compute T o.rise : delta_degC = delta(t.motor, 10m)\n"
        + "compute T o.spread : delta_degC = stddev(t.motor, 10m)\n"
    ).classes["T"]
    ctx = MemoryContext()
    ctx.set(MOTOR, 100.0, 0.0)
    ctx.set(MOTOR, 190.0, 60.0)
    out = {cls.nodes[i].name: v for i, v in cls.triggers[ALL](ctx)}
    assert out["o.rise"] == pytest.approx(50.0)  # a 90 °F rise is a 50 °C rise, not 90 °F → 32.2 °C
    assert out["o.spread"] == pytest.approx(25.0)  # population stddev of (100, 190) °F = 45 °F = 25 °C
    assert codes("delta(t.motor, 10m)", "degC") == ["E032"]


@pytest.mark.parametrize(
    "expr", ["t.motor + t.motor", "t.motor + t.ambient", "t.ambient + 10 degF", "(t.motor + t.ambient) / 2"]
)
def test_adding_absolute_temperatures_is_an_error(expr: str) -> None:
    assert codes(expr) == ["E031"]


@pytest.mark.parametrize(
    ("expr", "unit", "value"),
    [
        ("t.motor + 18 delta_degF", "degC", 110.0),
        ("t.motor - t.ambient", "delta_degF", 212.0 - 32.0),
        ("t.motor + (t.ambient - t.motor) / 2", "degF", 122.0),
    ],
)
def test_temperature_differences_still_work(expr: str, unit: str, value: float) -> None:
    values = {MOTOR: 212.0, "/features/t/properties/ambient": 0.0}
    assert evaluate(expr, values, unit) == pytest.approx(value)


def test_describe_tells_a_temperature_from_a_difference() -> None:
    assert U.describe(U.parse_unit("degF")) == "[temperature]"
    assert U.describe(U.parse_unit("delta_degC")) == "[temperature difference]"


def test_course_length_units_are_written_in_literals_and_converted() -> None:
    source = (
        'twins R = things "r:*"\nunits R { s.dls : deg/100ft }\n'
        "compute R s.metric : deg/30m = s.dls\n"
        "compute R s.high = s.dls > 3 deg/100ft\n"
    )
    cls = compile_source(source).classes["R"]
    ctx = MemoryContext({"/features/s/properties/dls": 4.0})
    out = {cls.nodes[i].name: v for i, v in cls.triggers[ALL](ctx)}
    assert out["s.metric"] == pytest.approx(4.0 * 30 / 30.48)  # 30 m is 98.425 ft
    assert out["s.high"] is True


@pytest.mark.parametrize(
    ("expr", "x"), [("i.x * 1e308", 10.0), ("i.x * 0", float("inf")), ("1e308 * 10", 0.0)]
)
def test_a_computed_value_that_is_not_finite_is_an_evaluation_error(expr: str, x: float) -> None:
    # JSON (and so Ditto) has no NaN or infinity: such a value is the rule's health, never written back
    out = evaluate(expr, {X: x})
    assert isinstance(out, EvalError)
    assert "not a finite number" in out.error
    assert evaluate("i.x * 2", {X: 1e300}) == 2e300
    assert evaluate("i.x > 1", {X: float("inf")}) is True  # conditions may still compare infinities


@pytest.mark.parametrize(
    ("expr", "unit", "value"),
    [
        ("i.p * 2", "bar", 200 * 0.0689475729),
        ("i.p / 4", "bar", 25 * 0.0689475729),
        ("2 / i.p", "1/bar", 0.29007548),
    ],
)
def test_a_unit_factor_is_folded_into_a_constant_operand(expr: str, unit: str, value: float) -> None:
    source = HEAD + f"compute T o.r : {unit} = {expr}\n"
    cls = compile_source(source).classes["T"]
    assert evaluate(expr, {"/features/i/properties/p": 100.0}, unit) == pytest.approx(value)
    body = cls.source["module"]
    assert "* 0.0689" not in body and "* 14.50" not in body  # no separate conversion step per reading
