"""Inflow performance of producing wells: productivity index, Vogel's IPR and its inverses, gas backpressure.

Field units throughout: rates in bbl/d (gas in Mscf/d), pressures in psi. Pressures in IPR formulas
are used as ratios or differences, so gauge or absolute readings work as long as all arguments of
one call use the same reference (Vogel's paper uses psig).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from centinela.domain.base import DomainFunction, Limit, Param, define, ordered

__all__ = [
    "FUNCTIONS",
    "api_to_sg",
    "composite_ipr",
    "gas_backpressure_rate",
    "productivity_index",
    "pi_rate",
    "sg_to_api",
    "vogel_ipr",
    "vogel_pwf",
    "vogel_qmax",
]

_PWF = Param("pwf", "psi", "flowing bottomhole pressure", Limit.NON_NEGATIVE)
_PR = Param("pr", "psi", "average reservoir pressure", Limit.POSITIVE)
_Q = Param("q", "bbl/d", "liquid rate", Limit.NON_NEGATIVE)
_QMAX = Param("qmax", "bbl/d", "maximum rate at pwf = 0 (AOF)", Limit.POSITIVE)
_J = Param("j", "bbl/d/psi", "productivity index", Limit.POSITIVE)


def _vogel_ratio(pwf: Any, pr: Any) -> Any:
    x = pwf / pr
    return 1.0 - 0.2 * x - 0.8 * x * x


def _pwf_at_most_pr(pwf: Any, pr: Any, *_: Any) -> None:
    ordered("vogel_ipr", pwf, pr, ("pwf", "pr"), "psi")


vogel_ipr = define(
    "vogel_ipr",
    lambda pwf, pr, qmax: qmax * _vogel_ratio(pwf, pr),
    (_PWF, _PR, _QMAX),
    "bbl/d",
    "Vogel's inflow performance: q = qmax·[1 − 0.2·(pwf/pr) − 0.8·(pwf/pr)²], for a solution-gas-drive "
    "reservoir at or below its bubble point. Source: J.V. Vogel, 'Inflow Performance Relationships for "
    "Solution-Gas Drive Wells', JPT 20(1), Jan. 1968, pp. 83–92 (SPE-1476-PA).",
    _pwf_at_most_pr,
)


def _qmax_relation(q: Any, pwf: Any, pr: Any) -> None:
    ordered("vogel_qmax", pwf, pr, ("pwf", "pr"), "psi", strict=True)


vogel_qmax = define(
    "vogel_qmax",
    lambda q, pwf, pr: q / _vogel_ratio(pwf, pr),
    (_Q, _PWF, _PR),
    "bbl/d",
    "Vogel's maximum rate (AOF) from one stabilised test point (q at pwf): "
    "qmax = q / [1 − 0.2·(pwf/pr) − 0.8·(pwf/pr)²]. Source: Vogel (1968), as above.",
    _qmax_relation,
)


def _pwf_relation(q: Any, pr: Any, qmax: Any) -> None:
    ordered("vogel_pwf", q, qmax, ("q", "qmax"), "bbl/d")


vogel_pwf = define(
    "vogel_pwf",
    lambda q, pr, qmax: 0.125 * pr * (math.sqrt(81.0 - 80.0 * q / qmax) - 1.0),
    (_Q, _PR, _QMAX),
    "psi",
    "Flowing bottomhole pressure that yields rate q on Vogel's curve (the quadratic solved for pwf): "
    "pwf = 0.125·pr·[√(81 − 80·q/qmax) − 1]. Source: Vogel (1968); the inverse form is given e.g. in "
    "Guo, Lyons & Ghalambor, Petroleum Production Engineering (2007), section 3.2.",
    _pwf_relation,
    lambda q, pr, qmax: 0.125 * pr * (np.sqrt(81.0 - 80.0 * q / qmax) - 1.0),
)


def _pi_relation(q: Any, pr: Any, pwf: Any) -> None:
    ordered("productivity_index", pwf, pr, ("pwf", "pr"), "psi", strict=True)


productivity_index = define(
    "productivity_index",
    lambda q, pr, pwf: q / (pr - pwf),
    (_Q, _PR, _PWF),
    "bbl/d/psi",
    "Productivity index J = q / (pr − pwf), the rate per psi of drawdown (straight-line IPR, valid "
    "above the bubble point). Source: e.g. Ahmed, Reservoir Engineering Handbook, ch. 'Oil Well "
    "Performance'; API RP 59 glossary.",
    _pi_relation,
)


def _pi_rate_relation(j: Any, pr: Any, pwf: Any) -> None:
    ordered("pi_rate", pwf, pr, ("pwf", "pr"), "psi")


pi_rate = define(
    "pi_rate",
    lambda j, pr, pwf: j * (pr - pwf),
    (_J, _PR, _PWF),
    "bbl/d",
    "Rate from a productivity index: q = J·(pr − pwf) (straight-line IPR).",
    _pi_rate_relation,
)


def _composite(pwf: Any, pr: Any, pb: Any, j: Any) -> Any:
    if pwf >= pb:
        return j * (pr - pwf)
    return j * (pr - pb) + j * pb / 1.8 * _vogel_ratio(pwf, pb)


def _composite_arrays(pwf: Any, pr: Any, pb: Any, j: Any) -> Any:
    above = j * (pr - pwf)
    below = j * (pr - pb) + j * pb / 1.8 * _vogel_ratio(pwf, pb)
    return np.where(pwf >= pb, above, below)


def _composite_relation(pwf: Any, pr: Any, pb: Any, j: Any) -> None:
    ordered("composite_ipr", pwf, pr, ("pwf", "pr"), "psi")
    ordered("composite_ipr", pb, pr, ("pb", "pr"), "psi")


composite_ipr = define(
    "composite_ipr",
    _composite,
    (_PWF, _PR, Param("pb", "psi", "bubble-point pressure", Limit.POSITIVE), _J),
    "bbl/d",
    "Generalised Vogel IPR for an undersaturated reservoir (pr ≥ pb): q = J·(pr − pwf) for pwf ≥ pb, "
    "else q = J·(pr − pb) + (J·pb/1.8)·[1 − 0.2·(pwf/pb) − 0.8·(pwf/pb)²]. Source: Guo, Lyons & "
    "Ghalambor, Petroleum Production Engineering (2007), eq. 3.63 (after Vogel 1968).",
    _composite_relation,
    _composite_arrays,
)


def _backpressure_relation(pr: Any, pwf: Any, c: Any, n: Any) -> None:
    ordered("gas_backpressure_rate", pwf, pr, ("pwf", "pr"), "psi")
    ordered("gas_backpressure_rate", 0.5, n, ("0.5", "n"), None)
    ordered("gas_backpressure_rate", n, 1.0, ("n", "1"), None)


gas_backpressure_rate = define(
    "gas_backpressure_rate",
    lambda pr, pwf, c, n: c * (pr * pr - pwf * pwf) ** n,
    (
        _PR,
        _PWF,
        Param("c", None, "performance coefficient (Mscf/d per psi^(2n))", Limit.POSITIVE),
        Param("n", None, "deliverability exponent (0.5 to 1)", Limit.POSITIVE),
    ),
    "Mscf/d",
    "Gas well backpressure (deliverability) equation q = C·(pr² − pwf²)ⁿ with absolute pressures in psi "
    "and 0.5 ≤ n ≤ 1. Source: Rawlins & Schellhardt, 'Back-Pressure Data on Natural Gas Wells and Their "
    "Application to Production Practices', U.S. Bureau of Mines Monograph 7 (1936).",
    _backpressure_relation,
)

api_to_sg = define(
    "api_to_sg",
    lambda api: 141.5 / (131.5 + api),
    (Param("api", None, "API gravity in degrees API", Limit.NON_NEGATIVE),),
    None,
    "Specific gravity (60/60 °F) of a liquid of given API gravity: SG = 141.5 / (131.5 + °API), the "
    "definition of API gravity (API MPMS ch. 11.1; water is 10 °API). Returns a plain ratio; multiply by "
    "`1 sg` to treat it as a density.",
)

sg_to_api = define(
    "sg_to_api",
    lambda sg: 141.5 / sg - 131.5,
    (Param("sg", None, "specific gravity relative to water (60/60 °F)", Limit.POSITIVE),),
    None,
    "API gravity of a liquid of given specific gravity: °API = 141.5 / SG − 131.5 (definition, API MPMS "
    "ch. 11.1).",
)

FUNCTIONS: tuple[DomainFunction, ...] = (
    vogel_ipr,
    vogel_qmax,
    vogel_pwf,
    productivity_index,
    pi_rate,
    composite_ipr,
    gas_backpressure_rate,
    api_to_sg,
    sg_to_api,
)
