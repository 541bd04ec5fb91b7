"""Artificial-lift functions against published worked examples, physics cross-checks and input checks."""

from __future__ import annotations

import math

import pytest

from centinela.domain import DomainInputError
from centinela.domain.artificial_lift import (
    esp_efficiency,
    gas_column_pressure,
    gas_gradient,
    hydraulic_power,
    pump_head,
    three_phase_power,
)
from centinela.dsl.units import conversion, parse_unit

REL = 0.005


def factor(frm: str, to: str) -> float:
    return conversion(parse_unit(frm), parse_unit(to))[0]


def test_hydraulic_power_in_bbl_per_day_matches_published_gpm_example() -> None:
    """drillingformulas.com 'Hydraulic Horse Power': 3500 psi at 800 gpm → 1633.6 hp (HHP = P·Q/1714).

    The rate is converted to bbl/d by Centinela's unit system, as a rule would declare it.
    """
    q_bpd = 800.0 * factor("gpm", "bbl/d")
    assert hydraulic_power(q_bpd, 3500.0) == pytest.approx(1633.6, rel=REL)


def test_hydraulic_power_first_principles() -> None:
    """Power = Q·Δp exactly: (bbl/d)·psi → hp through the unit system."""
    assert hydraulic_power(1.0, 1.0) == pytest.approx(factor("bbl/d*psi", "hp"), rel=1e-9)


def test_pump_head_field_rule_and_physics() -> None:
    """Field rule TDH = psi × 2.31 / SG (pump handbooks); exactly, Δp / (ρ_water·SG·g) at 60 °F."""
    assert pump_head(1000.0, 1.0) == pytest.approx(2310.0, rel=REL)
    assert pump_head(1000.0, 1.08) == pytest.approx(1000.0 * 2.31 / 1.08, rel=REL)
    # Same thing through the unit system: psi over the weight density of 1 sg of liquid, in ft.
    rho_si = factor("sg", "kg/m^3")
    expected_m = 1000.0 * factor("psi", "Pa") / (rho_si * 9.80665)
    assert pump_head(1000.0, 1.0) == pytest.approx(expected_m * factor("m", "ft"), rel=1e-4)


def test_pump_head_engineering_toolbox_examples() -> None:
    """The Engineering ToolBox, "Pump Head vs. Pressure" (engineeringtoolbox.com), worked examples.

    "Converting pressure - psi - to pump head - feet": 100 psi of water (SG 1) → h = 2.31 × 100 / 1 = 231 ft.
    "Converting pump head - feet - to pressure - psi": a water pump with 120 ft of head → p = 0.433 × 120
    = 52 psi, so 52 psi of water is 120 ft of head (the published 52 is rounded: 0.5 % of 120 ft holds).
    """
    assert pump_head(100.0, 1.0) == pytest.approx(231.0, rel=REL)
    assert pump_head(0.433 * 120.0, 1.0) == pytest.approx(120.0, rel=REL)


def test_esp_efficiency_cengel_cimbala_pump_example() -> None:
    """Çengel & Cimbala, *Fluid Mechanics: Fundamentals and Applications* (McGraw-Hill, 1st ed. 2006),
    Example 5-12 'Pumping Power and Frictional Heating in a Pump' (transcribed with its solution in the FOSSEE
    Scilab Textbook Companion, github.com/FOSSEE/Scilab-TBC-Uploads, 797/CH5/EX5.12): a 15 kW motor of 90 %
    efficiency (shaft power 0.90 × 15 = 13.5 kW) drives a pump moving 50 L/s of water from 100 kPa to 300 kPa
    (same pipe diameters, no elevation change); useful power V̇·ΔP = 0.050 × 200 = 10 kW, so the pump's
    mechanical efficiency is 10 / 13.5 = 74.1 %.

    The efficiency is the same relation as an ESP's (hydraulic power q·Δp over input power), so the example's
    SI inputs are converted through Centinela's unit system into the function's bbl/d and psi. With the
    electrical input (15 kW) instead of the shaft power the same relation gives the combined pump-motor
    efficiency, η_pump · η_motor = 0.741 × 0.90 (the book's definition of combined efficiency).
    """
    q_bpd = 50.0 * factor("L/s", "bbl/d")
    dp_psi = (300.0 - 100.0) * factor("kPa", "psi")
    assert esp_efficiency(q_bpd, dp_psi, 13.5) == pytest.approx(0.741, rel=REL)
    assert esp_efficiency(q_bpd, dp_psi, 15.0) == pytest.approx(0.741 * 0.90, rel=REL)


def test_esp_efficiency_is_hydraulic_over_electrical() -> None:
    q, dp = 2000.0, 1500.0
    hyd_kw = hydraulic_power(q, dp) * factor("hp", "kW")
    assert esp_efficiency(q, dp, hyd_kw * 2.0) == pytest.approx(0.5)
    # A fraction: stored into a `%` output the compiler multiplies by 100.
    assert esp_efficiency(q, dp, hyd_kw * 4.0) * factor("1", "%") == pytest.approx(25.0)
    with pytest.raises(DomainInputError, match="hydraulic power"):
        esp_efficiency(q, dp, hyd_kw * 0.5)


@pytest.mark.parametrize(
    ("volts", "amps", "pf", "published_kw"),
    [(480.0, 100.0, 0.90, 74.82), (480.0, 100.0, 0.85, 70.67), (600.0, 55.0, 0.92, 52.59)],
)
def test_three_phase_power_nodeandvolt_examples(
    volts: float, amps: float, pf: float, published_kw: float
) -> None:
    """Node & Volt, 'Three-Phase Power Calculator' (https://nodeandvolt.com/calculators/three-phase-power),
    Examples 1-3: kW = √3 × V × A × PF ÷ 1000 with V line-to-line: 480 V, 100 A, PF 0.90 → 74.82 kW;
    480 V, 100 A, PF 0.85 → 70.67 kW; 600 V, 55 A, PF 0.92 → 52.59 kW.
    """
    assert three_phase_power(volts, amps, pf) == pytest.approx(published_kw, rel=REL)


def test_three_phase_power_sciencing_example() -> None:
    """Sciencing, 'How to Convert Amps to KW 3-Phase' (https://sciencing.com/do-amps-kw-3-phase-8613652.html):
    280 V and 40 A, KW = V × I × 1.732 (unity power factor) = 19.4 kW.
    """
    assert three_phase_power(280.0, 40.0, 1.0) == pytest.approx(19.4, rel=REL)


def test_three_phase_power_is_three_phases_and_checks_power_factor() -> None:
    assert three_phase_power(480.0, 100.0, 0.9) == pytest.approx(3 * (480.0 / math.sqrt(3)) * 90.0 / 1000)
    with pytest.raises(DomainInputError, match="power factor `power_factor` must be between 0 and 1"):
        three_phase_power(480.0, 100.0, 1.2)


def _density_lb_ft3(gradient_psi_ft: float) -> float:
    """Weight gradient → mass density through the unit system (ρ = (dP/dD) / g_n)."""
    return gradient_psi_ft * factor("psi/ft", "Pa/m") / 9.80665 * factor("kg/m^3", "lb/ft^3")


def test_gas_gradient_dake_gas_density_example() -> None:
    """L.P. Dake, *Fundamentals of Reservoir Engineering* (Elsevier, 1978), ch. 1, solution of the
    gas-properties exercise, p. 24 (online copy: digilib.universitaspertamina.ac.id, 'Fundamentals of
    Reservoir Engineering', page 85): gas of gravity γg = 0.687 (M = 19.91), Z = 0.865 at 2000 psia and
    180 °F → reservoir gas density ρ = 6.696 lb/cu.ft (via ρsc = 0.0524 lb/cu.ft and E = 35.37·p/(Z·T)).

    The gradient of a static gas column is that density under standard gravity (ρ/144 psi/ft per lb/ft³, as
    El-Banbi et al. 2018, eq. 3.13, write it); here the function's psi/ft is turned back into lb/ft³ by
    Centinela's unit system.
    """
    assert _density_lb_ft3(gas_gradient(2000.0, 0.687, 180.0, 0.865)) == pytest.approx(6.696, rel=REL)


def test_gas_gradient_petrobasics_el_banbi_example() -> None:
    """PetroBasics 'Gas Density' tool (http://www.petrobasics.com/engineering-tools/gas-density; reference:
    El-Banbi, Alzahabi & El-Maraghi, *PVT Property Correlations: Selection and Estimation*, 2018,
    eqs. 3.12-3.13), 'known z-factor' example: γg = 0.7, T = 610 °R, p = 2100 psi(a), z = 0.83
    → ρg = 7.8362 lb/ft³.
    """
    temperature_f = 610.0 - 459.67
    assert _density_lb_ft3(gas_gradient(2100.0, 0.7, temperature_f, 0.83)) == pytest.approx(7.8362, rel=REL)


def test_gas_gradient_equals_real_gas_density() -> None:
    """dP/dD = ρ·g with ρ = M_air·γg·P/(z·R·T): recomputed in SI from CODATA R and M_air = 28.9625 g/mol."""
    p_psia, gg, t_f, z = 2000.0, 0.7, 150.0, 0.85
    p_pa = p_psia * factor("psi", "Pa")
    t_k = t_f * factor("degF", "K") + conversion(parse_unit("degF"), parse_unit("K"))[1]
    rho = 28.9625e-3 * gg * p_pa / (z * 8.314462618 * t_k)
    grad_pa_per_m = rho * 9.80665
    expected = grad_pa_per_m * factor("Pa/m", "psi/ft")
    assert gas_gradient(p_psia, gg, t_f, z) == pytest.approx(expected, rel=1e-3)


def test_gas_column_integrates_the_gradient() -> None:
    """P(D) solves dP/dD = gradient(P) for constant z and T: a fine Euler sum converges to it."""
    ps, gg, depth, t, z = 1000.0, 0.65, 8000.0, 150.0, 0.9
    p, steps = ps, 20_000
    for _ in range(steps):
        p += gas_gradient(p, gg, t, z) * depth / steps
    assert gas_column_pressure(ps, gg, depth, t, z) == pytest.approx(p, rel=1e-4)
    assert gas_column_pressure(ps, gg, 0.0, t, z) == pytest.approx(ps)


def test_gas_column_drillingformulas_dry_gas_example() -> None:
    """drillingformulas.com, 'Determine Bottom Hole Pressure from Wellhead Pressure in a Dry Gas Well'
    (http://www.drillingformulas.com/determine-bottom-hole-pressure-from-wellhead-pressure-in-a-dry-gas-well/):
    shut-in wellhead 2000 psig = 2014.7 psia, 0.75 gravity gas, 9000 ft TVD, average 160 °F, ideal gas
    (Pbh = Pwh·e^(γg·H/(53.36·Tav)), no z factor) → Pbh = 2471 psia.
    """
    assert gas_column_pressure(2014.7, 0.75, 9000.0, 160.0, 1.0) == pytest.approx(2471.0, rel=REL)


def test_gas_column_checks() -> None:
    with pytest.raises(DomainInputError, match="absolute surface injection pressure `surface_pressure`"):
        gas_column_pressure(0.0, 0.65, 1000.0, 100.0, 0.9)
    with pytest.raises(DomainInputError, match="^gas_gradient: .*temperature = -500 degF"):
        gas_gradient(1000.0, 0.65, -500.0, 0.9)
