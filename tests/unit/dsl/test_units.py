"""Units: conversion factors against defined values, oilfield policies, errors with hints, algebra."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from centinela.dsl.units import (
    DIMENSIONLESS,
    KNOWN_UNITS,
    Unit,
    UnitError,
    compatible,
    conversion,
    delta,
    describe,
    divide,
    is_offset,
    multiply,
    parse_unit,
    per_second,
    power,
    times_second,
)

U = parse_unit


def scale(frm: str, to: str) -> float:
    factor, offset = conversion(U(frm), U(to))
    assert offset == 0.0
    return factor


# Exact or defined values: 1 US gal = 231 in³ = 3.785411784e-3 m³ (NIST SP 811), 1 lb = 0.45359237 kg,
# 1 lbf = 4.4482216152605 N, 1 in = 0.0254 m, 1 hp (mechanical) = 550 ft·lbf/s = 745.69987 W.
@pytest.mark.parametrize(
    ("frm", "to", "expected"),
    [
        ("bbl", "m^3", 0.158987294928),
        ("bbl", "gal", 42.0),
        ("stb", "bbl", 1.0),
        ("psi", "Pa", 6894.757293168),
        ("psi", "kPa", 6.894757293168),
        ("ppg", "kg/m^3", 119.826427316897),
        ("lb/gal", "ppg", 1.0),
        ("ft", "m", 0.3048),
        ("in", "mm", 25.4),
        ("klbf", "lbf", 1000.0),
        ("klbf", "kN", 4.4482216152605),
        ("ft*lbf", "N*m", 1.3558179483314),
        ("ft·lbf", "ft*lbf", 1.0),
        ("kft*lbf", "ft*lbf", 1000.0),
        ("hp", "W", 745.69987158227),
        ("hp", "kW", 0.74569987158227),
        ("cP", "Pa*s", 0.001),
        ("bbl/d", "m^3/d", 0.158987294928),
        ("bbl/min", "bbl/d", 1440.0),
        ("bpm", "bbl/min", 1.0),
        ("gpm", "bbl/d", 1440.0 / 42.0),
        ("Mscf/d", "scf/d", 1000.0),
        ("MMscf/d", "Mscf/d", 1000.0),
        ("Mcf", "scf", 1000.0),
        ("scf", "m^3", 0.028316846592),
        ("rpm", "Hz", 1.0 / 60.0),
        ("spm", "rpm", 1.0),
        ("%", "1", 0.01),
        ("1", "%", 100.0),
        ("sg", "kg/m^3", 999.016),
        ("psi/ft", "kPa/m", 6.894757293168 / 0.3048),
        ("delta_degF", "delta_degC", 5.0 / 9.0),
        ("degF/ft", "K/m", (5.0 / 9.0) / 0.3048),
    ],
)
def test_conversion_factor(frm: str, to: str, expected: float) -> None:
    assert scale(frm, to) == pytest.approx(expected, rel=1e-9)


def test_conversion_inverse_is_reciprocal() -> None:
    assert scale("bbl", "m^3") * scale("m^3", "bbl") == pytest.approx(1.0, rel=1e-12)


def test_gas_oil_ratio_from_rates() -> None:
    """Mscf/d ÷ bbl/d is a volume ratio that converts to scf/bbl by 1000 (the GOR of the rules draft)."""
    gor = divide(U("Mscf/d"), U("bbl/d"))
    assert gor.is_dimensionless()
    assert conversion(gor, U("scf/bbl")) == pytest.approx((1000.0, 0.0))


def test_water_cut_ratio_to_percent() -> None:
    cut = divide(U("bbl/d"), U("bbl/d"))
    assert cut == DIMENSIONLESS
    factor, offset = conversion(cut, U("%"))
    assert 0.25 * factor + offset == pytest.approx(25.0)


@pytest.mark.parametrize(
    ("frm", "to", "value", "expected"),
    [
        ("degF", "degC", 212.0, 100.0),
        ("degF", "degC", 32.0, 0.0),
        ("degC", "degF", -40.0, -40.0),
        ("degC", "K", 0.0, 273.15),
        ("degF", "K", 60.0, 288.705555555556),
        ("K", "degF", 0.0, -459.67),
        ("degF", "degR", 60.0, 519.67),
    ],
)
def test_temperature_conversion_uses_offset(frm: str, to: str, value: float, expected: float) -> None:
    factor, offset = conversion(U(frm), U(to))
    assert value * factor + offset == pytest.approx(expected, abs=1e-9)


def test_temperature_difference_and_absolute_do_not_mix() -> None:
    assert is_offset(U("degF")) and not is_offset(U("psi"))
    assert delta(U("degF")) == Unit("delta_degF")
    with pytest.raises(UnitError, match="absolute temperature"):
        conversion(U("degF"), U("delta_degC"))
    assert not compatible(U("delta_degC"), U("degF"))


def test_incompatible_units_raise_naming_both() -> None:
    with pytest.raises(UnitError) as info:
        conversion(U("psi"), U("bbl/d"))
    text = str(info.value)
    assert "'psi'" in text and "'bbl/d'" in text and "[pressure]" in text and "[volume rate]" in text
    assert text.endswith(".")
    assert not compatible(U("psi"), U("bbl/d"))
    assert compatible(U("psi"), U("bar"))


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("psia", "psi"),
        ("psig", "psi"),
        ("fet", "ft"),
        ("bbl/dy", "d"),
        ("Psi", "psi"),
        ("Mscdf", "Mscf"),
        ("bbld", "bbl/d"),
        ("degf", "degF"),
        ("rmp", "rpm"),
    ],
)
def test_unknown_unit_hints_nearest_name(text: str, hint: str) -> None:
    with pytest.raises(UnitError, match=f"did you mean '{hint}'") as info:
        parse_unit(text)
    assert "Unknown unit" in str(info.value)


def test_gauge_and_absolute_policy_is_explained() -> None:
    with pytest.raises(UnitError, match="gauge or absolute"):
        parse_unit("psig")


@pytest.mark.parametrize(
    "text", ["", "3", "1000*m", "m+s", "bbl//d", "bbl/(d", "__import__('os')", "a.b", "ft.lbf"]
)
def test_malformed_unit_text_is_rejected(text: str) -> None:
    with pytest.raises(UnitError, match="unit"):
        parse_unit(text)


def test_every_known_unit_parses() -> None:
    assert len(KNOWN_UNITS) == len(set(KNOWN_UNITS))
    for text in KNOWN_UNITS:
        assert parse_unit(text).text == text


def test_text_is_normalised() -> None:
    assert parse_unit(" bbl / d ").text == "bbl/d"
    assert parse_unit("ft·lbf").text == "ft*lbf"
    assert parse_unit("ft ⋅ lbf") == parse_unit("ft*lbf")
    assert parse_unit("°F") == parse_unit("degF")
    assert parse_unit("°C/100ft").text == "degC/100ft"


def test_oilfield_m_is_thousand_not_mega() -> None:
    assert scale("Mscf", "scf") == pytest.approx(1e3)
    assert scale("MMscf", "scf") == pytest.approx(1e6)
    assert scale("Mbbl", "bbl") == pytest.approx(1e3)
    assert scale("Mstb", "stb") == pytest.approx(1e3)
    assert scale("MMbbl", "bbl") == pytest.approx(1e6)
    assert scale("Bcf", "MMscf") == pytest.approx(1e3)
    assert scale("Tcf", "Bcf") == pytest.approx(1e3)
    # SI prefixes still mean what they mean elsewhere.
    assert scale("MPa", "kPa") == pytest.approx(1e3)
    assert scale("kbbl", "bbl") == pytest.approx(1e3)


@pytest.mark.parametrize("alias", ["bpd", "bopd", "bwpd", "blpd", "bfpd", "BOPD", "stb/d"])
def test_daily_barrel_aliases(alias: str) -> None:
    assert scale(alias, "bbl/d") == pytest.approx(1.0)


def test_gas_rate_aliases() -> None:
    assert scale("Mscfd", "Mscf/d") == pytest.approx(1.0)
    assert scale("MMcfd", "Mscf/d") == pytest.approx(1000.0)


def test_counts_per_minute() -> None:
    """Revolutions and strokes are counts: rev/min is rpm, pump output × stroke rate is a flow."""
    assert scale("rev/min", "rpm") == pytest.approx(1.0)
    assert scale("rpm", "Hz") == pytest.approx(1 / 60)
    assert scale("bbl/stk*spm", "bbl/min") == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("text", "normal"), [("m3/d", "m^3/d"), ("ft3", "ft^3"), ("Sm3/d", "m^3/d"), ("in2", "in^2")]
)
def test_digit_exponents_are_read_as_powers(text: str, normal: str) -> None:
    assert parse_unit(text).text == normal
    # Names that merely contain digits elsewhere are left alone.
    assert parse_unit("mm").text == "mm"


def test_algebra() -> None:
    assert multiply(U("psi"), U("ft")).text == "psi*ft"
    assert divide(U("psi"), U("ft")) == Unit("psi/ft")
    assert divide(U("bbl"), U("bbl")) == DIMENSIONLESS
    assert power(U("ft"), 2) == Unit("ft^2")
    assert power(U("ft^2"), 0.5) == Unit("ft")
    assert divide(U("1"), U("s")) == Unit("1/s")
    assert divide(U("bbl"), multiply(U("d"), U("ft"))).text == "bbl/(d*ft)"
    assert per_second(U("bbl")) == Unit("bbl/s")
    assert scale(per_second(U("bbl")).text, "bbl/min") == pytest.approx(60.0)
    assert scale(times_second(U("bbl/d")).text, "bbl") == pytest.approx(1.0 / 86400.0)
    assert divide(U("degF"), U("ft")) == Unit("delta_degF/ft")
    assert multiply(U("klbf"), U("ft")).text == "klbf*ft"
    assert compatible(multiply(U("klbf"), U("ft")), U("ft*lbf"))


def test_algebra_results_reparse() -> None:
    for a in ("bbl/d", "psi", "Mscf/d", "ft*lbf", "%", "degC", "rpm"):
        for b in ("s", "ft", "bbl/d", "hp"):
            for result in (multiply(U(a), U(b)), divide(U(a), U(b))):
                assert parse_unit(result.text) == result


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("psi", "[pressure]"),
        ("bbl/d", "[volume rate]"),
        ("ft*lbf", "[energy or torque]"),
        ("ppg", "[density]"),
        ("sg", "[density]"),
        ("%", "[dimensionless]"),
        ("rpm", "[frequency]"),
        ("degF", "[temperature]"),
        ("cP", "[dynamic viscosity]"),
        ("psi/ft", "[pressure gradient]"),
    ],
)
def test_describe(text: str, words: str) -> None:
    assert describe(U(text)) == words


def test_dimensionless() -> None:
    assert U("%").is_dimensionless()
    assert U("scf/bbl").is_dimensionless()
    assert not U("psi").is_dimensionless()
    assert not U("rpm").is_dimensionless()


def test_units_built_directly_are_normalised() -> None:
    assert conversion(Unit("ft·lbf"), Unit("N*m")) == pytest.approx((1.3558179483314, 0.0))


def test_temperature_inside_a_compound_is_a_difference() -> None:
    assert not is_offset(U("degF*ft"))
    assert scale("degF*ft", "K*m") == pytest.approx(5 / 9 * 0.3048)


MULTIPLICATIVE = [u for u in KNOWN_UNITS if not is_offset(U(u))]


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(MULTIPLICATIVE), st.sampled_from(MULTIPLICATIVE))
def test_conversion_round_trip_and_algebra(a: str, b: str) -> None:
    ua, ub = U(a), U(b)
    if compatible(ua, ub):
        forth, back = scale(a, b), scale(b, a)
        assert forth * back == pytest.approx(1.0, rel=1e-12)
    else:
        with pytest.raises(UnitError, match="cannot be converted"):
            conversion(ua, ub)
    # (a·b)/b is a again, by a factor of exactly one.
    product = multiply(ua, ub)
    assert scale(divide(product, ub).text, a) == pytest.approx(1.0, rel=1e-12)
    assert parse_unit(product.text) == product
    # a/a is dimensionless and converts to % by 100.
    assert conversion(divide(ua, ua), U("%"))[0] == pytest.approx(100.0)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(["degF", "degC", "K", "degR"]), st.sampled_from(["degF", "degC", "K", "degR"]),
       st.floats(min_value=-400.0, max_value=2000.0))
def test_temperature_round_trip(a: str, b: str, value: float) -> None:
    f1, o1 = conversion(U(a), U(b))
    f2, o2 = conversion(U(b), U(a))
    assert (value * f1 + o1) * f2 + o2 == pytest.approx(value, abs=1e-9)


def test_spe_field_spellings() -> None:
    """SPE field usage: D is the day (STB/D, Mscf/D), md/mD the millidarcy, cp the centipoise."""
    assert scale("STB/D", "bbl/d") == pytest.approx(1.0)
    assert scale("Mscf/D", "scf/d") == pytest.approx(1000.0)
    assert scale("mD", "darcy") == pytest.approx(1e-3)
    assert scale("md", "mD") == pytest.approx(1.0)
    assert scale("cp", "cP") == pytest.approx(1.0)


def test_course_lengths_for_gradients_and_dogleg_severity() -> None:
    assert parse_unit("deg/100ft").text == "deg/100ft"
    assert scale("deg/100ft", "deg/30m") == pytest.approx(30.0 / 30.48)
    assert scale("degF/100ft", "degF/ft") == pytest.approx(0.01)
    assert scale("psi/100ft", "psi/ft") == pytest.approx(0.01)


def test_api_gravity_is_explained_not_guessed() -> None:
    with pytest.raises(UnitError, match="api_to_sg"):
        parse_unit("API")
