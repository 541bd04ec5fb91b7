"""Well inflow functions against published worked examples, inverses and input checks."""

from __future__ import annotations

import numpy as np
import pytest

from centinela.domain import DomainInputError
from centinela.domain.wells import (
    api_to_sg,
    composite_ipr,
    gas_backpressure_rate,
    pi_rate,
    productivity_index,
    sg_to_api,
    vogel_ipr,
    vogel_pwf,
    vogel_qmax,
)

REL = 0.005  # the 0.5 % the published examples must be met within


# Course slides 'Kuliah 3 - IPR Dua Fasa' (Lecture 3, two-phase IPR; Indonesian petroleum-engineering
# course), https://ro.scribd.com/presentation/235682500/Kuliah3-Ipr-Dua-Fasa, Vogel example: saturated
# reservoir pr = pb = 2000 psi, test 1000 bpd at pwf = 500 psi; published q_max = 1111.1 STB/D and the
# IPR table below (q at pwf = 1000 psi read as 777.8 STB/D).
KULIAH3_PR = 2000.0
KULIAH3_TABLE = [
    (0.0, 1111.1),
    (200.0, 1080.0),
    (400.0, 1031.1),
    (600.0, 964.4),
    (800.0, 880.0),
    (1000.0, 777.8),
    (1200.0, 657.8),
    (1400.0, 520.0),
    (1600.0, 364.4),
    (1800.0, 191.1),
]


def test_vogel_qmax_kuliah3_example() -> None:
    """Kuliah 3 'IPR Dua Fasa' slides (see KULIAH3_TABLE): 1000 bpd at 500 psi, pr 2000 psi → q_max 1111.1."""
    assert vogel_qmax(1000.0, 500.0, KULIAH3_PR) == pytest.approx(1111.1, rel=REL)


@pytest.mark.parametrize(("pwf", "published"), KULIAH3_TABLE)
def test_vogel_ipr_kuliah3_table(pwf: float, published: float) -> None:
    """Every row of the slides' Vogel IPR table, from the published q_max = 1111.1 STB/D."""
    assert vogel_ipr(pwf, KULIAH3_PR, 1111.1) == pytest.approx(published, rel=REL)


def test_vogel_pwf_kuliah3_table_inverted() -> None:
    """The same table read backwards: on the 1111.1 curve 777.8 STB/D needs 1000 psi, 364.4 needs 1600."""
    assert vogel_pwf(777.8, KULIAH3_PR, 1111.1) == pytest.approx(1000.0, rel=REL)
    assert vogel_pwf(364.4, KULIAH3_PR, 1111.1) == pytest.approx(1600.0, rel=REL)


def test_vogel_end_points_and_inverse() -> None:
    assert vogel_ipr(0.0, 2000.0, 800.0) == pytest.approx(800.0)
    assert vogel_ipr(2000.0, 2000.0, 800.0) == pytest.approx(0.0, abs=1e-9)
    for pwf in (0.0, 250.0, 1000.0, 1999.0):
        q = vogel_ipr(pwf, 2000.0, 800.0)
        assert vogel_pwf(q, 2000.0, 800.0) == pytest.approx(pwf, abs=1e-6)
        assert vogel_qmax(q, pwf, 2000.0) == pytest.approx(800.0)


def test_productivity_index_fekete_example() -> None:
    """Fekete (IHS) well-test theory, 'Productivity Index': 1000 STB/d at 1500 psi, p̄ = 2000 psi → PI = 2."""
    assert productivity_index(1000.0, 2000.0, 1500.0) == pytest.approx(2.0, rel=REL)


def test_pi_rate_esp_sizing_example() -> None:
    """'Nodal Analysis Applied to ESPs' pump-sizing exercise (slides 5-8): pr 3550 psi, 3570 bpd at 2235 psi.

    Published: PI = 2.715, Qmax = 9638 bpd, pwf = 419 psi at 8500 bpd.
    """
    j = productivity_index(3570.0, 3550.0, 2235.0)
    assert j == pytest.approx(2.715, rel=REL)
    assert pi_rate(j, 3550.0, 0.0) == pytest.approx(9638.0, rel=REL)
    assert pi_rate(j, 3550.0, 419.0) == pytest.approx(8500.0, rel=REL)


def test_composite_ipr_krm4_depletion_example() -> None:
    """Abalt Solutions, Well Productivity Programme, Course 01 Module 02, PBL 'Karama KRM-4', Sub-Problem 4
    (https://wellprodsolutions.com/pbls/PBL-T1-02_KRM4/PBL-T1-02_KRM4_SP4.html; answers printed in the
    Topic 2.4 file pack, .../topic-2-4-nonlinear-ipr/file-pack/ipr_models.py).

    Composite IPR at P̄ = 4,200 psia, Pb = 3,650 psia, measured J = 0.600 STB/d/psi. Published:
    Qb = 330, Qmax = 1,547 and Q at Pwf = 3,100 psia = 638 STB/d.
    """
    pr, pb, j = 4200.0, 3650.0, 0.600
    assert composite_ipr(pb, pr, pb, j) == pytest.approx(330.0, rel=REL)
    assert pi_rate(j, pr, pb) == pytest.approx(330.0, rel=REL)
    assert composite_ipr(0.0, pr, pb, j) == pytest.approx(1547.0, rel=REL)
    assert composite_ipr(3100.0, pr, pb, j) == pytest.approx(638.0, rel=REL)


def test_composite_ipr_ka07_aof_example() -> None:
    """Same programme, Module 04 PBL 'Karama KA-07', SP-1 data (p̄ = 5,100 psia, pb = 4,500 psia, ideal
    J* = 0.72 stb/d/psi; https://wellprodsolutions.com/pbls/PBL-T1-04_K07/PBL-T1-04_K07_SP1.html) and the
    SP-6 findings table (.../PBL-T1-04_K07_SP6.html): composite AOFP = 2,232 stb/d (ideal, S = 0).
    """
    assert composite_ipr(0.0, 5100.0, 4500.0, 0.72) == pytest.approx(2232.0, rel=REL)


def test_composite_ipr_is_linear_above_and_continuous_at_bubble_point() -> None:
    j, pr, pb = 1.2, 4000.0, 2500.0
    assert composite_ipr(3000.0, pr, pb, j) == pytest.approx(j * 1000.0)
    at_pb = composite_ipr(pb, pr, pb, j)
    assert composite_ipr(pb - 1e-6, pr, pb, j) == pytest.approx(at_pb)
    # At pwf = 0 the rate is J(pr − pb) + J·pb/1.8 (Guo et al. eq. 3.63).
    assert composite_ipr(0.0, pr, pb, j) == pytest.approx(j * (pr - pb) + j * pb / 1.8)
    # With pr = pb it is Vogel's curve with qmax = J·pb/1.8.
    assert composite_ipr(1000.0, pb, pb, j) == pytest.approx(vogel_ipr(1000.0, pb, j * pb / 1.8))


# Guo, Lyons & Ghalambor, *Petroleum Production Engineering: A Computer-Assisted Approach* (Elsevier, 2007),
# Example Problem 6.1, Table 6.1 'Result Given by BottomHoleNodalGas.xls', p. 6/71 (online copy: digilib.
# universitaspertamina.ac.id, 'Petroleum Production Engineering, A Computer-Assisted Approach', page 79):
# back-pressure IPR with C = 0.01 Mscf/d-psi^2n, n = 0.8 and reservoir pressure 2000 psia. Published: AOF =
# 1912.705 Mscf/d and the IPR column (rate in Mscf/d, bottom-hole pressure in psia) below, plus the nodal
# operating point 1,470 Mscf/d at 1,059 psia (a point of the same IPR).
GUO_6_1_IPR = [
    (1943.0, 191.0),
    (1861.0, 383.0),
    (1764.0, 574.0),
    (1652.0, 765.0),
    (1523.0, 956.0),
    (1374.0, 1148.0),
    (1200.0, 1339.0),
    (987.0, 1530.0),
    (703.0, 1721.0),
    (498.0, 1817.0),
    (353.0, 1865.0),
    (250.0, 1889.0),
    (1059.0, 1470.0),
]


def test_gas_backpressure_guo_example_6_1_aof() -> None:
    """Guo et al. (2007) Example Problem 6.1 (see GUO_6_1_IPR): AOF = C·(p̄²)ⁿ = 1912.705 Mscf/d."""
    assert gas_backpressure_rate(2000.0, 0.0, 0.01, 0.8) == pytest.approx(1912.705, rel=REL)


@pytest.mark.parametrize(("pwf", "published"), GUO_6_1_IPR)
def test_gas_backpressure_guo_example_6_1_ipr_table(pwf: float, published: float) -> None:
    """Every row of Guo et al.'s Table 6.1 IPR (pwf as published, to 1 psi) and the operating point."""
    assert gas_backpressure_rate(2000.0, pwf, 0.01, 0.8) == pytest.approx(published, rel=REL)


def test_gas_backpressure() -> None:
    assert gas_backpressure_rate(2000.0, 1000.0, 0.001, 1.0) == pytest.approx(0.001 * 3_000_000.0)
    assert gas_backpressure_rate(2000.0, 1000.0, 0.01, 0.5) == pytest.approx(0.01 * 3_000_000.0**0.5)
    with pytest.raises(DomainInputError, match="n"):
        gas_backpressure_rate(2000.0, 1000.0, 0.01, 1.5)


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: vogel_ipr(2600.0, 2500.0, 1000.0), "pwf = 2600 psi and pr = 2500 psi"),
        (lambda: vogel_ipr(-1.0, 2500.0, 1000.0), "`pwf` must be zero or more, but it is -1 psi"),
        (lambda: vogel_ipr(100.0, 0.0, 1000.0), "`pr` must be greater than zero"),
        (lambda: vogel_ipr(100.0, float("nan"), 1000.0), "`pr` must be greater than zero, but it is nan"),
        (lambda: vogel_qmax(350.0, 2500.0, 2500.0), "`pwf` must be below `pr`"),
        (lambda: vogel_pwf(1200.0, 2500.0, 1000.0), "`q` must be at most `qmax`"),
        (lambda: productivity_index(100.0, 2000.0, 2000.0), "`pwf` must be below `pr`"),
        (lambda: composite_ipr(100.0, 2000.0, 2500.0, 1.0), "`pb` must be at most `pr`"),
    ],
)
def test_bad_input_raises_a_sentence(call: object, words: str) -> None:
    with pytest.raises(DomainInputError) as info:
        call()  # type: ignore[operator]
    text = str(info.value)
    assert words in text
    assert text.endswith(".")


def test_vector_form_matches_scalar_and_checks_every_row() -> None:
    pwf = np.linspace(0.0, 2500.0, 11)
    expected = [vogel_ipr(p, 2500.0, 1000.0) for p in pwf]
    assert vogel_ipr.vector(pwf, 2500.0, 1000.0) == pytest.approx(expected)
    with pytest.raises(DomainInputError, match="pwf = 2600"):
        vogel_ipr.vector(np.array([100.0, 2600.0]), 2500.0, 1000.0)


def test_api_gravity_definition() -> None:
    """API MPMS 11.1: °API = 141.5/SG − 131.5, so water (SG 1) is 10 °API; the two forms invert each other."""
    assert api_to_sg(10.0) == pytest.approx(1.0)
    assert sg_to_api(1.0) == pytest.approx(10.0)
    for api in (15.0, 32.0, 45.0):
        assert sg_to_api(api_to_sg(api)) == pytest.approx(api)


def test_api_gravity_sciencing_example() -> None:
    """Sciencing, 'How to Convert API to Density' (https://sciencing.com/convert-api-density-8443808.html):
    50 °API → 141.5 ÷ (131.5 + 50) = 141.5 ÷ 181.5 = 0.7796 specific gravity, and back.
    """
    assert api_to_sg(50.0) == pytest.approx(0.7796, rel=REL)
    assert sg_to_api(0.7796) == pytest.approx(50.0, rel=REL)
