"""Artificial lift: ESP hydraulic power and efficiency, three-phase power, gas columns.

Gas formulas take absolute pressures in psi and temperatures in °F (converted to °R inside).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from centinela.domain.base import DomainFunction, Limit, Param, define, ordered

__all__ = [
    "FUNCTIONS",
    "esp_efficiency",
    "gas_column_pressure",
    "gas_gradient",
    "hydraulic_power",
    "pump_head",
    "three_phase_power",
]

# 1 hp = 550 ft·lbf/s; (bbl/d)·psi = 5.614583 ft³ × 144 lbf/ft² / 86400 s = 9.3576 ft·lbf/s,
# so hp = q·Δp / 58 771 (the 1714 of gpm·psi times 34.2857 (bbl/d)/gpm).
_BPD_PSI_PER_HP = 550.0 * 86400.0 / (5.614583333333333 * 144.0)
_HP_KW = 0.745699872
# M_air / (R · 144 in²/ft²) with M_air = 28.9625 lb/lbmol and R = 10.7316 psia·ft³/(lbmol·°R).
_GAS_COLUMN = 28.9625 / (10.7316 * 144.0)
_RANKINE = 459.67

# Feet of water (60 °F, 62.366 lb/ft³) per psi: 144 / 62.366 = 2.309, the field rule's "2.31".
_FT_PER_PSI_WATER = 144.0 / 62.366

_Q = Param("q", "bbl/d", "liquid rate through the pump", Limit.NON_NEGATIVE)
_DP = Param("dp", "psi", "pressure rise across the pump (discharge − intake)", Limit.NON_NEGATIVE)

hydraulic_power = define(
    "hydraulic_power",
    lambda q, dp: q * dp / _BPD_PSI_PER_HP,
    (_Q, _DP),
    "hp",
    "Hydraulic (output) power of a pump: HHP = q[bbl/d] · Δp[psi] / 58 771, the bbl/d form of "
    "HHP = Q[gpm]·P[psi]/1714. Source: Lapeyrouse, Formulas and Calculations for Drilling, Production "
    "and Workover, ch. 1 'Hydraulic Horsepower'; Lea, Rowlan & McCoy, 'Artificial Lift Power Efficiency'.",
)


def _efficiency_relation(q: Any, dp: Any, power: Any) -> None:
    ordered("esp_efficiency", q * dp / _BPD_PSI_PER_HP * _HP_KW, power, ("hydraulic power", "power"), "kW")


esp_efficiency = define(
    "esp_efficiency",
    lambda q, dp, power: q * dp / _BPD_PSI_PER_HP * _HP_KW / power,
    (_Q, _DP, Param("power", "kW", "electrical input power", Limit.POSITIVE)),
    "1",
    "Overall ESP (or any lift) efficiency: η = hydraulic power / electrical input power = "
    "(q·Δp/58 771 hp × 0.7457 kW/hp) / P_in[kW], a fraction (store it into a `%` output to get per cent). "
    "Source: Lea, Rowlan & McCoy, 'Artificial Lift Power Efficiency' (Southwestern Petroleum Short "
    "Course, 1999): system efficiency = K·Q·Δp / kW.",
    _efficiency_relation,
)

three_phase_power = define(
    "three_phase_power",
    lambda voltage, current, power_factor: math.sqrt(3.0) * voltage * current * power_factor / 1000.0,
    (
        Param("voltage", "V", "line-to-line voltage", Limit.NON_NEGATIVE),
        Param("current", "A", "line current", Limit.NON_NEGATIVE),
        Param("power_factor", None, "power factor", Limit.FRACTION),
    ),
    "kW",
    "Real power of a balanced three-phase load: P = √3 · V_LL · I · PF. Source: IEEE Std 1459-2010 "
    "(definitions for balanced three-phase systems); any electrical engineering handbook.",
)

_GG = Param("gas_gravity", None, "gas specific gravity (air = 1)", Limit.POSITIVE)
_Z = Param("z", None, "average gas deviation factor", Limit.POSITIVE)
_TAVG = Param("temperature", "degF", "average gas temperature", Limit.ANY)


def _above_absolute_zero(fname: str) -> Any:
    def relation(*args: Any) -> None:
        ordered(fname, -_RANKINE, args[-2], ("-459.67 degF", "temperature"), "degF", strict=True)

    return relation


def _column(lib: Any) -> Any:
    def kernel(surface_pressure: Any, gas_gravity: Any, depth: Any, temperature: Any, z: Any) -> Any:
        return surface_pressure * lib.exp(_GAS_COLUMN * gas_gravity * depth / (z * (temperature + _RANKINE)))

    return kernel


gas_column_pressure = define(
    "gas_column_pressure",
    _column(math),
    (
        Param("surface_pressure", "psi", "absolute surface injection pressure", Limit.POSITIVE),
        _GG,
        Param("depth", "ft", "true vertical depth", Limit.NON_NEGATIVE),
        _TAVG,
        _Z,
    ),
    "psi",
    "Static gas column (injection gas pressure at depth): P(D) = P_s · exp[0.01875 · γg · D / (z̄ · T̄)], "
    "T̄ in °R, absolute pressures; 0.01875 = M_air / (R · 144). Source: Katz et al., Handbook of Natural "
    "Gas Engineering (1959); Economides et al., Petroleum Production Systems, ch. on gas lift.",
    _above_absolute_zero("gas_column_pressure"),
    _column(np),
)

gas_gradient = define(
    "gas_gradient",
    lambda pressure, gas_gravity, temperature, z: (
        _GAS_COLUMN * gas_gravity * pressure / (z * (temperature + _RANKINE))
    ),
    (Param("pressure", "psi", "absolute gas pressure", Limit.POSITIVE), _GG, _TAVG, _Z),
    "psi/ft",
    "Gradient of a static gas column: dP/dD = 0.01875 · γg · P / (z · T), T in °R (the real-gas density "
    "ρ = 28.9625·γg·P/(z·R·T) divided by 144). Source: as for gas_column_pressure.",
    _above_absolute_zero("gas_gradient"),
)

pump_head = define(
    "pump_head",
    lambda dp, sg: dp * _FT_PER_PSI_WATER / sg,
    (_DP, Param("sg", None, "specific gravity of the pumped liquid (water = 1)", Limit.POSITIVE)),
    "ft",
    "Head developed by a pump: H[ft] = Δp[psi] · 2.309 / SG (144 in²/ft² over 62.366 lb/ft³ of water at "
    "60 °F; field rule TDH = psi × 2.31 / SG). Source: Hydraulic Institute / pump handbooks; API RP 11S4 "
    "(ESP sizing) uses the same conversion.",
)

FUNCTIONS: tuple[DomainFunction, ...] = (
    hydraulic_power,
    pump_head,
    esp_efficiency,
    three_phase_power,
    gas_column_pressure,
    gas_gradient,
)
