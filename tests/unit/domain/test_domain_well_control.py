"""Well-control functions against published worked examples and the hydrostatic balance they rest on."""

from __future__ import annotations

import pytest

from centinela.domain import DomainInputError
from centinela.domain.drilling import hydrostatic
from centinela.domain.well_control import (
    equivalent_mud_weight,
    formation_pressure,
    kill_mud_weight,
    maasp,
    max_allowable_mud_weight,
)
from centinela.dsl.units import conversion, parse_unit

REL = 0.005


def test_equivalent_mud_weight_lapeyrouse_examples() -> None:
    """Lapeyrouse, Formulas and Calculations, ch. 1 'Converting Pressure into Mud Weight':
    2600 psi at 5000 ft → 10.0 ppg; 3583 psi at 2000 m → 10.5 ppg (the depth converted by the unit system).
    """
    assert equivalent_mud_weight(2600.0, 5000.0) == pytest.approx(10.0, rel=REL)
    m_to_ft = conversion(parse_unit("m"), parse_unit("ft"))[0]
    assert equivalent_mud_weight(3583.0, 2000.0 * m_to_ft) == pytest.approx(10.5, rel=REL)


def test_leak_off_limits_published_examples() -> None:
    """Leak-off test worked example (shoe TVD 5495 ft, 10.5 ppg test mud): an 800 psi FIT proves 13.3 ppg.

    drillingformulas.com 'Adjusted maximum allowable shut-in casing pressure': shoe 4500 ft TVD, leak-off
    1000 psi with 9.5 ppg, now drilling with 12.0 ppg → 415 psi.
    """
    assert max_allowable_mud_weight(800.0, 5495.0, 10.5) == pytest.approx(13.3, rel=REL)
    limit = max_allowable_mud_weight(1000.0, 4500.0, 9.5)
    assert maasp(limit, 12.0, 4500.0) == pytest.approx(415.0, rel=REL)


def test_leak_off_formation_fracture_pressure() -> None:
    """Same LOT example: 10.5 ppg to 5495 ft is 3000 psi; with 1000 psi at surface the shoe sees 4000 psi."""
    assert hydrostatic(10.5, 5495.0) == pytest.approx(3000.0, rel=REL)
    assert formation_pressure(1000.0, 5495.0, 10.5) == pytest.approx(4000.0, rel=REL)


def test_kill_mud_balances_the_formation() -> None:
    """The kill mud's column equals the formation pressure (SIDPP + original column)."""
    sidpp, tvd, mw = 350.0, 11_500.0, 10.2
    kmw = kill_mud_weight(sidpp, tvd, mw)
    assert hydrostatic(kmw, tvd) == pytest.approx(formation_pressure(sidpp, tvd, mw))
    assert kill_mud_weight(0.0, tvd, mw) == pytest.approx(mw)


def test_kill_mud_weight_drillingformulas_example() -> None:
    """drillingformulas.com, 'Maximum Surface Pressure from Gas Influx in Water Based Mud'
    (https://www.drillingformulas.com/maximum-surface-pressure-from-gas-influx-in-water-based-mud/):
    SIDPP 450 psi, 12.0 ppg mud, hole 9,500 ft TVD → KMW = 12.0 + 450 ÷ (0.052 × 9500) = 12.91 ppg
    (rounded up to 13.0 ppg on the rig), formation pressure = 450 + 0.052 × 12.0 × 9500 = 6378 psi.
    """
    assert kill_mud_weight(450.0, 9500.0, 12.0) == pytest.approx(12.91, rel=REL)
    assert formation_pressure(450.0, 9500.0, 12.0) == pytest.approx(6378.0, rel=REL)


def test_checks() -> None:
    with pytest.raises(DomainInputError, match="`mud_weight` must be at most `max_mud_weight`"):
        maasp(12.0, 13.0, 5000.0)
    with pytest.raises(DomainInputError, match="true vertical depth `tvd` must be greater than zero"):
        equivalent_mud_weight(1000.0, 0.0)
