"""Well control in field units: equivalent mud weight, kill mud, leak-off limits and MAASP.

All of them rest on the hydrostatic relation P = 0.052 · ρ[ppg] · TVD[ft] (see `drilling.hydrostatic`).
"""

from __future__ import annotations

from typing import Any

from centinela.domain.base import DomainFunction, Limit, Param, define, ordered

__all__ = [
    "FUNCTIONS",
    "equivalent_mud_weight",
    "formation_pressure",
    "kill_mud_weight",
    "maasp",
    "max_allowable_mud_weight",
]

_K = 0.052
_TVD = Param("tvd", "ft", "true vertical depth", Limit.POSITIVE)
_MW = Param("mud_weight", "ppg", "mud weight in the hole", Limit.POSITIVE)
_SIDPP = Param("sidpp", "psi", "shut-in drill pipe pressure", Limit.NON_NEGATIVE)
_SHOE = Param("shoe_tvd", "ft", "true vertical depth of the casing shoe", Limit.POSITIVE)

equivalent_mud_weight = define(
    "equivalent_mud_weight",
    lambda pressure, tvd: pressure / (_K * tvd),
    (Param("pressure", "psi", "pressure at depth", Limit.NON_NEGATIVE), _TVD),
    "ppg",
    "Mud weight whose column gives `pressure` at `tvd`: ρ = P / (0.052 · TVD). Source: Lyons, Carter & "
    "Lapeyrouse, Formulas and Calculations for Drilling, Production and Workover, ch. 1 'Converting "
    "Pressure into Mud Weight'.",
)

kill_mud_weight = define(
    "kill_mud_weight",
    lambda sidpp, tvd, mud_weight: mud_weight + sidpp / (_K * tvd),
    (_SIDPP, _TVD, _MW),
    "ppg",
    "Kill mud weight that balances the formation: KMW = MW + SIDPP / (0.052 · TVD). Source: Lapeyrouse, "
    "Formulas and Calculations, ch. 'Well Control' (kill weight mud); IWCF formula sheet.",
)

formation_pressure = define(
    "formation_pressure",
    lambda sidpp, tvd, mud_weight: sidpp + _K * mud_weight * tvd,
    (_SIDPP, _TVD, _MW),
    "psi",
    "Formation pressure of a shut-in kick: P_f = SIDPP + 0.052 · MW · TVD (the drill string is full of "
    "known mud). Source: Lapeyrouse, Formulas and Calculations, ch. 'Well Control'.",
)

max_allowable_mud_weight = define(
    "max_allowable_mud_weight",
    lambda leak_off_pressure, shoe_tvd, test_mud_weight: (
        test_mud_weight + leak_off_pressure / (_K * shoe_tvd)
    ),
    (
        Param("leak_off_pressure", "psi", "surface leak-off (or FIT) pressure", Limit.NON_NEGATIVE),
        _SHOE,
        Param("test_mud_weight", "ppg", "mud weight used in the test", Limit.POSITIVE),
    ),
    "ppg",
    "Maximum allowable mud weight from a leak-off or formation-integrity test: "
    "MAMW = MW_test + P_LO / (0.052 · TVD_shoe). Source: Lapeyrouse, Formulas and Calculations, ch. 1 "
    "'Maximum Allowable Mud Weight from Leak-off Test Data'.",
)


def _maasp_relation(max_mud_weight: Any, mud_weight: Any, shoe_tvd: Any) -> None:
    ordered("maasp", mud_weight, max_mud_weight, ("mud_weight", "max_mud_weight"), "ppg")


maasp = define(
    "maasp",
    lambda max_mud_weight, mud_weight, shoe_tvd: (max_mud_weight - mud_weight) * _K * shoe_tvd,
    (
        Param("max_mud_weight", "ppg", "maximum allowable mud weight at the shoe", Limit.POSITIVE),
        _MW,
        _SHOE,
    ),
    "psi",
    "Maximum allowable annular surface pressure: MAASP = (MAMW − MW) · 0.052 · TVD_shoe. Source: IWCF "
    "formula sheet; drillingformulas.com 'Adjusted maximum allowable shut-in casing pressure'.",
    _maasp_relation,
)

FUNCTIONS: tuple[DomainFunction, ...] = (
    equivalent_mud_weight,
    kill_mud_weight,
    formation_pressure,
    max_allowable_mud_weight,
    maasp,
)
