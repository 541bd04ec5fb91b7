"""Drilling calculations in field units: hydrostatics, ECD, MSE, hydraulic horsepower, soft-string drag.

Constants are the oilfield ones the published formulas use (0.052 psi/ft per ppg, 1714 gpm·psi
per hp, 65.5 ppg for steel, 120π in Teale's rotary term); docs/domain-functions.md derives each.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from centinela.domain.base import DomainFunction, Limit, Param, define, ordered

__all__ = [
    "FUNCTIONS",
    "annular_pressure_loss",
    "annular_velocity",
    "buoyancy_factor",
    "drag_hoisting",
    "drag_lowering",
    "ecd",
    "hydraulic_horsepower",
    "hydrostatic",
    "mse",
    "pressure_gradient",
]

_PSI_PER_FT_PER_PPG = 0.052
_STEEL_PPG = 65.5

_MW = Param("density", "ppg", "fluid density", Limit.POSITIVE)
_TVD = Param("tvd", "ft", "true vertical depth", Limit.NON_NEGATIVE)

hydrostatic = define(
    "hydrostatic",
    lambda density, tvd: _PSI_PER_FT_PER_PPG * density * tvd,
    (_MW, _TVD),
    "psi",
    "Hydrostatic pressure of a fluid column: P = 0.052 · ρ[ppg] · TVD[ft] (0.052 = 12 in/ft ÷ 231 in³/gal). "
    "Source: Lyons, Carter & Lapeyrouse, Formulas and Calculations for Drilling, Production and Workover, "
    "ch. 1 'Basic Formulas', Hydrostatic Pressure.",
)

pressure_gradient = define(
    "pressure_gradient",
    lambda density: _PSI_PER_FT_PER_PPG * density,
    (_MW,),
    "psi/ft",
    "Pressure gradient of a fluid: G = 0.052 · ρ[ppg]. Source: Lapeyrouse, Formulas and Calculations, "
    "ch. 1 'Pressure Gradient'.",
)

ecd = define(
    "ecd",
    lambda density, annular_loss, tvd: density + annular_loss / (_PSI_PER_FT_PER_PPG * tvd),
    (
        _MW,
        Param("annular_loss", "psi", "annular pressure loss above the depth", Limit.NON_NEGATIVE),
        Param("tvd", "ft", "true vertical depth", Limit.POSITIVE),
    ),
    "ppg",
    "Equivalent circulating density: ECD = ρ + ΔP_annulus / (0.052 · TVD). Source: Lapeyrouse, "
    "Formulas and Calculations, ch. 1 'Equivalent Circulating Density'; Schlumberger Oilfield Glossary.",
)


def _buoyancy_relation(density: Any) -> None:
    ordered("buoyancy_factor", density, _STEEL_PPG, ("density", "65.5 (steel)"), "ppg", strict=True)


buoyancy_factor = define(
    "buoyancy_factor",
    lambda density: (_STEEL_PPG - density) / _STEEL_PPG,
    (_MW,),
    None,
    "Buoyancy factor of steel tubulars in a fluid: BF = (65.5 − ρ[ppg]) / 65.5, 65.5 ppg being the "
    "density of steel. Source: Lyons, Carter & Lapeyrouse, Formulas and Calculations for Drilling, "
    "Production and Workover, 3rd ed. (2012), p. 24.",
    _buoyancy_relation,
)


def _mse(wob: Any, torque: Any, rpm: Any, rop: Any, bit_diameter: Any) -> Any:
    area = math.pi * bit_diameter * bit_diameter / 4.0
    return wob / area + 120.0 * math.pi * rpm * torque / (area * rop)


mse = define(
    "mse",
    _mse,
    (
        Param("wob", "lbf", "weight on bit", Limit.NON_NEGATIVE),
        Param("torque", "ft*lbf", "torque at the bit", Limit.NON_NEGATIVE),
        Param("rpm", "rpm", "bit rotary speed", Limit.NON_NEGATIVE),
        Param("rop", "ft/h", "rate of penetration", Limit.POSITIVE),
        Param("bit_diameter", "in", "bit diameter", Limit.POSITIVE),
    ),
    "psi",
    "Mechanical specific energy (Teale): MSE = WOB/A_b + 120π·N·T/(A_b·ROP), A_b = π·d²/4 in², WOB lbf, "
    "N rpm, T ft·lbf, ROP ft/h → psi (rotary work 2π·N·T ft·lbf/min over A_b·ROP/60 in²·ft/min gives 120π). "
    "Source: R. Teale, 'The Concept of Specific Energy in Rock Drilling', Int. J. Rock Mech. Min. Sci. "
    "2 (1965) 57–73; field-unit form as in Dupriest & Koederitz, SPE-92194-MS (2005).",
)

hydraulic_horsepower = define(
    "hydraulic_horsepower",
    lambda pressure, flow: pressure * flow / 1714.0,
    (
        Param("pressure", "psi", "pressure (circulating pressure or pressure rise)", Limit.NON_NEGATIVE),
        Param("flow", "gpm", "flow rate", Limit.NON_NEGATIVE),
    ),
    "hp",
    "Hydraulic horsepower HHP = P[psi] · Q[gpm] / 1714. Source: Lapeyrouse, Formulas and Calculations, "
    "ch. 1 'Hydraulic Horsepower'; IADC Drilling Lexicon 'Hydraulic horsepower'.",
)

_HOLE = Param("hole_diameter", "in", "hole or casing inside diameter", Limit.POSITIVE)
_PIPE = Param("pipe_od", "in", "pipe outside diameter", Limit.NON_NEGATIVE)


def _annulus(fname: str) -> Any:
    def relation(*args: Any) -> None:
        ordered(fname, args[-1], args[-2], ("pipe_od", "hole_diameter"), "in", strict=True)

    return relation


annular_velocity = define(
    "annular_velocity",
    lambda flow, hole_diameter, pipe_od: 24.5 * flow / (hole_diameter**2 - pipe_od**2),
    (Param("flow", "gpm", "circulation rate", Limit.NON_NEGATIVE), _HOLE, _PIPE),
    "ft/min",
    "Annular velocity AV = 24.5 · Q[gpm] / (Dh² − Dp²)[in²] in ft/min (24.5 ≈ 231 in³/gal · 4 / (12π)). "
    "Source: Lapeyrouse, Formulas and Calculations, ch. 1 'Annular Velocity'.",
    _annulus("annular_velocity"),
)

annular_pressure_loss = define(
    "annular_pressure_loss",
    lambda density, length, velocity, hole_diameter, pipe_od: (
        1.4327e-7 * density * length * velocity**2 / (hole_diameter - pipe_od)
    ),
    (
        _MW,
        Param("length", "ft", "length of the annular section", Limit.NON_NEGATIVE),
        Param("velocity", "ft/min", "annular velocity", Limit.NON_NEGATIVE),
        _HOLE,
        _PIPE,
    ),
    "psi",
    "Rule-of-thumb annular pressure loss P = 1.4327·10⁻⁷ · ρ[ppg] · L[ft] · V²[ft/min] / (Dh − Dp)[in], "
    "an estimate only. Source: Lapeyrouse, Formulas and Calculations, 'Annular Pressure Loss'; "
    "drillingformulas.com worked example.",
    _annulus("annular_pressure_loss"),
)

# Pipe weight is quoted in lb/ft (mass per length); under standard gravity 1 lb weighs 1 lbf.
_W = Param("unit_weight", "lb/ft", "buoyed weight per foot of pipe", Limit.NON_NEGATIVE)
_L = Param("length", "ft", "length of the straight section", Limit.NON_NEGATIVE)
_INC = Param("inclination", "deg", "inclination from vertical", Limit.INCLINATION)
_MU = Param("friction", None, "friction coefficient", Limit.FRACTION)


def _axial(sign: float, lib: Any) -> Any:
    def kernel(unit_weight: Any, length: Any, inclination: Any, friction: Any) -> Any:
        angle = lib.radians(inclination)
        return unit_weight * length * (lib.cos(angle) + sign * friction * lib.sin(angle))

    return kernel


drag_hoisting = define(
    "drag_hoisting",
    _axial(1.0, math),
    (_W, _L, _INC, _MU),
    "lbf",
    "Soft-string tension increase over a straight inclined section while pulling out: "
    "ΔF = w·L·(cos α + μ·sin α). Source: Johancsik, Friesen & Dawson, 'Torque and Drag in Directional "
    "Wells — Prediction and Measurement', JPT 36(6) 1984 (SPE-11380-PA), with zero dogleg; the same "
    "straight-section relation as Texas A&M PETE 411 Lesson 36 'Torque and Drag Calculations', eq. 4.",
    array_kernel=_axial(1.0, np),
)

drag_lowering = define(
    "drag_lowering",
    _axial(-1.0, math),
    (_W, _L, _INC, _MU),
    "lbf",
    "Soft-string tension increase over a straight inclined section while running in: "
    "ΔF = w·L·(cos α − μ·sin α) (negative when friction exceeds the weight component). "
    "Source: Johancsik et al. (1984), as for drag_hoisting; PETE 411 Lesson 36, eq. 3.",
    array_kernel=_axial(-1.0, np),
)

FUNCTIONS: tuple[DomainFunction, ...] = (
    hydrostatic,
    pressure_gradient,
    ecd,
    buoyancy_factor,
    mse,
    hydraulic_horsepower,
    annular_velocity,
    annular_pressure_loss,
    drag_hoisting,
    drag_lowering,
)
