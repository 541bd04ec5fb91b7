"""Properties: compiled unit conversions agree with the unit system (pint) for compatible units."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parents[1] / "unit" / "dsl"))

from dsl_memory_context import MemoryContext  # noqa: E402

from centinela.dsl import check_source, compile_source  # noqa: E402
from centinela.dsl.program import ALL  # noqa: E402
from centinela.dsl.units import conversion, parse_unit  # noqa: E402

GROUPS = [  # one dimension per group
    ["psi", "bar", "kPa", "MPa"],
    ["bbl/d", "bbl/min", "m^3/d", "gpm", "bpm", "Mscf/d", "MMscf/d"],  # scf is a volume (no standard state)
    ["ft", "m", "in"],
    ["ppg", "sg", "kg/m^3"],
    ["klbf", "lbf", "kN"],
]
cases = st.sampled_from(GROUPS).flatmap(
    lambda g: st.tuples(st.sampled_from(g), st.sampled_from(g), st.sampled_from(g))
)
magnitudes = st.floats(min_value=-1e4, max_value=1e4, allow_nan=False).filter(lambda v: abs(v) > 1e-6)


def _scale(frm: str, to: str) -> float:
    scale, offset = conversion(parse_unit(frm), parse_unit(to))
    assert offset == 0
    return scale


@settings(max_examples=60, deadline=None)
@given(units=cases, x=magnitudes, y=magnitudes)
def test_sum_of_compatible_inputs_is_converted_like_pint(
    units: tuple[str, str, str], x: float, y: float
) -> None:
    ux, uy, out = units
    src = f'twins T = things "t:*"\nunits T {{ a.x : {ux}  a.y : {uy} }}\ncompute T o.r : {out} = a.x + a.y\n'
    cls = compile_source(src).classes["T"]
    ctx = MemoryContext({"/features/a/properties/x": x, "/features/a/properties/y": y})
    ((_, value),) = cls.triggers[ALL](ctx)
    expected = (x + y * _scale(uy, ux)) * _scale(ux, out)
    assert value == pytest.approx(expected, rel=1e-9, abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(units=cases, x=magnitudes, limit=magnitudes)
def test_comparison_with_a_literal_converts_the_literal(
    units: tuple[str, str, str], x: float, limit: float
) -> None:
    ux, ul, _ = units
    literal_unit = "inch" if ul == "in" else ul  # `in` is the membership operator in expressions
    rule = f"alarm T A when a.x > {abs(limit)} {literal_unit}\n"
    src = f'twins T = things "t:*"\nunits T {{ a.x : {ux} }}\n{rule}'
    cls = compile_source(src).classes["T"]
    ((_, raised),) = cls.triggers[ALL](MemoryContext({"/features/a/properties/x": x}))
    assert raised is (x > abs(limit) * _scale(ul, ux))


@given(group_a=st.sampled_from(GROUPS), group_b=st.sampled_from(GROUPS))
def test_incompatible_units_are_an_error(group_a: list[str], group_b: list[str]) -> None:
    src = (
        f'twins T = things "t:*"\nunits T {{ a.x : {group_a[0]}  a.y : {group_b[0]} }}\nlet T.s = a.x + a.y\n'
    )
    codes = [d.code for d in check_source(src).errors]
    assert codes == ([] if group_a is group_b else ["E031"])
