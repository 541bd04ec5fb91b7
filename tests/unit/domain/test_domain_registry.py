"""The registry the compiler uses: declared units parse, each function has a doc and a checked vector form."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from centinela.domain import FUNCTIONS, DomainInputError
from centinela.dsl.units import parse_unit

# One valid call per function; the registry test fails if a function is added without one.
VALID: dict[str, tuple[float, ...]] = {
    "vogel_ipr": (1500.0, 2500.0, 1000.0),
    "vogel_qmax": (400.0, 1500.0, 2500.0),
    "vogel_pwf": (400.0, 2500.0, 1000.0),
    "productivity_index": (400.0, 2500.0, 1500.0),
    "pi_rate": (1.5, 2500.0, 1500.0),
    "composite_ipr": (1500.0, 3000.0, 2000.0, 1.2),
    "gas_backpressure_rate": (2000.0, 1500.0, 0.01, 0.8),
    "hydrostatic": (10.0, 9000.0),
    "pressure_gradient": (10.0,),
    "ecd": (10.0, 200.0, 9000.0),
    "buoyancy_factor": (12.0,),
    "mse": (30_000.0, 5000.0, 120.0, 60.0, 8.5),
    "hydraulic_horsepower": (3000.0, 600.0),
    "drag_hoisting": (25.0, 1000.0, 45.0, 0.3),
    "drag_lowering": (25.0, 1000.0, 45.0, 0.3),
    "hydraulic_power": (2000.0, 1500.0),
    "pump_head": (1500.0, 1.05),
    "esp_efficiency": (2000.0, 1500.0, 100.0),
    "three_phase_power": (2300.0, 40.0, 0.85),
    "gas_column_pressure": (1200.0, 0.7, 7000.0, 140.0, 0.88),
    "gas_gradient": (1200.0, 0.7, 140.0, 0.88),
    "api_to_sg": (32.0,),
    "sg_to_api": (0.85,),
    "annular_velocity": (320.0, 6.5, 4.0),
    "annular_pressure_loss": (13.0, 8000.0, 300.0, 6.5, 4.0),
    "equivalent_mud_weight": (2600.0, 5000.0),
    "kill_mud_weight": (200.0, 10_000.0, 9.6),
    "formation_pressure": (200.0, 10_000.0, 9.6),
    "max_allowable_mud_weight": (1000.0, 5495.0, 10.5),
    "maasp": (13.5, 12.0, 4500.0),
}


def test_every_function_has_a_sample() -> None:
    assert set(FUNCTIONS) == set(VALID)


@pytest.mark.parametrize("name", sorted(VALID))
def test_declaration(name: str) -> None:
    f = FUNCTIONS[name]
    assert f.name == name
    assert "Source" in f.doc or "source" in f.doc or "=" in f.doc
    for _, unit in f.params:
        if unit is not None:
            parse_unit(unit)
    if f.result_unit is not None:
        parse_unit(f.result_unit)
    assert len(f.params) == len(VALID[name]) == len(f.meanings)


@pytest.mark.parametrize("name", sorted(VALID))
def test_vector_matches_scalar(name: str) -> None:
    f = FUNCTIONS[name]
    args = VALID[name]
    scalar = f.fn(*args)
    assert isinstance(scalar, float) and np.isfinite(scalar)
    assert f.vector is not None
    # Broadcast the first argument over a small array of slightly varied values.
    first = np.array([args[0] * k for k in (0.9, 1.0, 1.05)])
    rows = [f.fn(v, *args[1:]) for v in first]
    assert f.vector(first, *args[1:]) == pytest.approx(rows, rel=1e-12)


@pytest.mark.parametrize("name", sorted(VALID))
def test_non_finite_input_is_refused(name: str) -> None:
    f = FUNCTIONS[name]
    args = list(VALID[name])
    args[0] = float("inf")
    with pytest.raises(DomainInputError, match=name):
        f.fn(*args)


def test_wrong_arity_is_refused() -> None:
    with pytest.raises(DomainInputError, match="takes 2 arguments"):
        FUNCTIONS["hydrostatic"].fn(10.0)


def test_reference_documents_every_function() -> None:
    text = (Path(__file__).resolve().parents[3] / "docs" / "domain-functions.md").read_text(encoding="utf-8")
    for name in FUNCTIONS:
        assert f"### `{name}(" in text, f"docs/domain-functions.md lacks {name}"
