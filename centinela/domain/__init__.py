"""Domain functions of the rules language (wells, drilling, well control, lift): the compiler's registry.

Each `DomainFunction` receives plain floats in the units its `params` declare (the compiler folds
the conversion factors) and returns a float in `result_unit`; `vector` is the numpy form for
backtests. Bad input raises `DomainInputError`, which the engine records as rule health.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from centinela.domain import artificial_lift, drilling, well_control, wells
from centinela.domain.base import DomainFunction, DomainInputError

__all__ = ["FUNCTIONS", "DomainFunction", "DomainInputError"]

FUNCTIONS: Mapping[str, DomainFunction] = MappingProxyType(
    {
        f.name: f
        for f in (*wells.FUNCTIONS, *drilling.FUNCTIONS, *well_control.FUNCTIONS, *artificial_lift.FUNCTIONS)
    }
)
