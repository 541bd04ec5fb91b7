"""The shape of a domain function: declared parameters with units and limits, scalar and numpy forms.

A formula is written once as a *kernel* of plain arithmetic that works on floats and on numpy
arrays alike. `define` wraps it twice: `fn` checks scalar inputs and returns a float (what compiled
rules call per reading), `vector` checks whole arrays and returns an array (backtests over history).
Bad input raises `DomainInputError` (a `ValueError`) with a whole sentence naming the function, the
parameter and the value; a domain function never returns NaN.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

import numpy as np
from numpy.typing import NDArray

from centinela.errors import CentinelaError

__all__ = ["DomainFunction", "DomainInputError", "Limit", "Param", "define", "ordered"]


class DomainInputError(CentinelaError, ValueError):
    """An argument outside the domain of a formula (negative depth, pwf above reservoir pressure, ...)."""


class Limit(Enum):
    """What values a parameter accepts (all of them must also be finite)."""

    ANY = "any finite number"
    POSITIVE = "greater than zero"
    NON_NEGATIVE = "zero or more"
    FRACTION = "between 0 and 1"
    INCLINATION = "between 0 and 180 degrees"


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    unit: str | None
    meaning: str
    limit: Limit = Limit.ANY


@dataclass(frozen=True, slots=True)
class DomainFunction:
    """One function of the rules language: plain floats in the declared units in, a float out."""

    name: str
    fn: Callable[..., float]
    params: tuple[tuple[str, str | None], ...]
    result_unit: str | None
    doc: str
    vector: Callable[..., NDArray[np.float64]] | None = None
    meanings: tuple[str, ...] = ()

    def __call__(self, *args: float) -> float:
        """Call the checked scalar form: `vogel_ipr(1500.0, 2000.0, 1000.0)`."""
        return self.fn(*args)


def _fails(limit: Limit, value: float) -> bool:
    if not math.isfinite(value):
        return True
    if limit is Limit.POSITIVE:
        return value <= 0.0
    if limit is Limit.NON_NEGATIVE:
        return value < 0.0
    if limit is Limit.FRACTION:
        return not 0.0 <= value <= 1.0
    if limit is Limit.INCLINATION:
        return not 0.0 <= value <= 180.0
    return False


def _array_fails(limit: Limit, values: NDArray[np.float64]) -> NDArray[np.bool_]:
    bad = ~np.isfinite(values)
    if limit is Limit.POSITIVE:
        bad |= values <= 0.0
    elif limit is Limit.NON_NEGATIVE:
        bad |= values < 0.0
    elif limit is Limit.FRACTION:
        bad |= (values < 0.0) | (values > 1.0)
    elif limit is Limit.INCLINATION:
        bad |= (values < 0.0) | (values > 180.0)
    return bad


def _refuse(fname: str, param: Param, value: float) -> DomainInputError:
    unit = f" {param.unit}" if param.unit else ""
    msg = (
        f"{fname}: the {param.meaning} `{param.name}` must be {param.limit.value}, "
        f"but it is {value:g}{unit}."
    )
    return DomainInputError(msg)


def ordered(
    fname: str,
    small: Any,
    large: Any,
    names: tuple[str, str],
    unit: str | None,
    strict: bool = False,
) -> None:
    """Require `small <= large` (or `<` when `strict`) for floats or arrays; name the first offender."""
    bad = np.asarray(small >= large) if strict else np.asarray(small > large)
    if not bad.any():
        return
    s, lg = np.broadcast_arrays(np.asarray(small, dtype=np.float64), np.asarray(large, dtype=np.float64))
    a, b = float(s[bad].flat[0]), float(lg[bad].flat[0])
    word = "below" if strict else "at most"
    u = f" {unit}" if unit else ""
    msg = (
        f"{fname}: `{names[0]}` must be {word} `{names[1]}`, "
        f"but {names[0]} = {a:g}{u} and {names[1]} = {b:g}{u}."
    )
    raise DomainInputError(msg)


def define(
    name: str,
    kernel: Callable[..., Any],
    params: Sequence[Param],
    result_unit: str | None,
    doc: str,
    relation: Callable[..., None] | None = None,
) -> DomainFunction:
    """Wrap `kernel` with input checks into a scalar `fn` and a numpy `vector` form.

    `relation(*args)` checks conditions between parameters (it receives floats, or the whole arrays
    for the vector form, after the per-parameter checks passed) and raises through `ordered`.
    """
    spec = tuple(params)

    def fn(*args: float) -> float:
        if len(args) != len(spec):
            msg = f"{name} takes {len(spec)} arguments ({', '.join(p.name for p in spec)}), got {len(args)}."
            raise DomainInputError(msg)
        values = tuple(float(a) for a in args)
        for param, value in zip(spec, values, strict=True):
            if _fails(param.limit, value):
                raise _refuse(name, param, value)
        if relation is not None:
            relation(*values)
        result = float(kernel(*values))
        if not math.isfinite(result):
            msg = f"{name}: the inputs {values} give no finite result."
            raise DomainInputError(msg)
        return result

    def vector(*args: Any) -> NDArray[np.float64]:
        arrays = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in args))
        if len(arrays) != len(spec):
            msg = f"{name} takes {len(spec)} arguments, got {len(arrays)}."
            raise DomainInputError(msg)
        for param, values in zip(spec, arrays, strict=True):
            bad = _array_fails(param.limit, values)
            if bad.any():
                raise _refuse(name, param, float(values[bad].flat[0]))
        if relation is not None:
            relation(*arrays)
        result = np.asarray(kernel(*arrays), dtype=np.float64)
        if not np.isfinite(result).all():
            msg = f"{name}: some inputs give no finite result."
            raise DomainInputError(msg)
        return result

    fn.__name__ = vector.__name__ = name
    fn.__doc__ = vector.__doc__ = doc
    return DomainFunction(
        name=name,
        fn=fn,
        params=tuple((p.name, p.unit) for p in spec),
        result_unit=result_unit,
        doc=doc,
        vector=vector,
        meanings=tuple(p.meaning for p in spec),
    )
