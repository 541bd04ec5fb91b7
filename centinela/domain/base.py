"""The shape of a domain function: declared parameters with units and limits, scalar and numpy forms.

A formula is written once as a *kernel* of plain arithmetic that works on floats and on numpy
arrays alike. `define` wraps it twice: `fn` checks scalar inputs and returns a float (what compiled
rules call per reading), `vector` checks whole arrays and returns an array (backtests over history).
Bad input raises `DomainInputError` (a `ValueError`) with a whole sentence naming the function, the
parameter and the value; a domain function never returns NaN.
"""

from __future__ import annotations

import math
import sys
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


_MAX = sys.float_info.max
# Closed intervals; the smallest positive float makes "greater than zero" a closed bound, and the
# finite ends exclude inf. NaN fails every comparison, so `lo <= v <= hi` is the whole check.
_BOUNDS: dict[Limit, tuple[float, float]] = {
    Limit.ANY: (-_MAX, _MAX),
    Limit.POSITIVE: (math.ulp(0.0), _MAX),
    Limit.NON_NEGATIVE: (0.0, _MAX),
    Limit.FRACTION: (0.0, 1.0),
    Limit.INCLINATION: (0.0, 180.0),
}


def _all_within(bounds: tuple[tuple[float, float], ...]) -> Callable[..., bool]:
    """A predicate `ok(*args)` for the bounds; unrolled for up to five parameters (the hot path)."""
    (l0, h0), (l1, h1), (l2, h2), (l3, h3), (l4, h4) = (*bounds, *[(0.0, 0.0)] * 5)[:5]
    n = len(bounds)
    if n == 1:
        return lambda a: l0 <= a <= h0
    if n == 2:
        return lambda a, b: l0 <= a <= h0 and l1 <= b <= h1
    if n == 3:
        return lambda a, b, c: l0 <= a <= h0 and l1 <= b <= h1 and l2 <= c <= h2
    if n == 4:
        return lambda a, b, c, d: l0 <= a <= h0 and l1 <= b <= h1 and l2 <= c <= h2 and l3 <= d <= h3
    if n == 5:
        return lambda a, b, c, d, e: (
            l0 <= a <= h0 and l1 <= b <= h1 and l2 <= c <= h2 and l3 <= d <= h3 and l4 <= e <= h4
        )
    return lambda *args: all(lo <= v <= hi for (lo, hi), v in zip(bounds, args, strict=True))


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
    if isinstance(small, float | int) and isinstance(large, float | int):
        if small < large or (not strict and small == large):
            return
        bad = np.asarray(True)
    else:
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
    array_kernel: Callable[..., Any] | None = None,
) -> DomainFunction:
    """Wrap `kernel` with input checks into a scalar `fn` and a numpy `vector` form.

    `relation(*args)` checks conditions between parameters (it receives floats, or the whole arrays
    for the vector form, after the per-parameter checks passed) and raises through `ordered`.
    `array_kernel` replaces `kernel` for arrays when the scalar one uses `math` (faster on floats).
    """
    spec = tuple(params)
    checks = tuple((*_BOUNDS[p.limit], p) for p in spec)
    within = _all_within(tuple(_BOUNDS[p.limit] for p in spec))
    arity = len(spec)
    on_arrays = array_kernel or kernel

    def fn(*args: float) -> float:
        if len(args) != arity:
            msg = f"{name} takes {arity} arguments ({', '.join(p.name for p in spec)}), got {len(args)}."
            raise DomainInputError(msg)
        if not within(*args):
            for lo, hi, param in checks:
                value = args[spec.index(param)]
                if not lo <= value <= hi:
                    raise _refuse(name, param, float(value))
        if relation is not None:
            relation(*args)
        result = kernel(*args)
        if not -_MAX <= result <= _MAX:
            msg = f"{name}: the inputs {args} give no finite result."
            raise DomainInputError(msg)
        return float(result)

    def vector(*args: Any) -> NDArray[np.float64]:
        arrays = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in args))
        if len(arrays) != arity:
            msg = f"{name} takes {arity} arguments, got {len(arrays)}."
            raise DomainInputError(msg)
        for (lo, hi, param), values in zip(checks, arrays, strict=True):
            bad = ~((values >= lo) & (values <= hi))
            if bad.any():
                raise _refuse(name, param, float(values[bad].flat[0]))
        if relation is not None:
            relation(*arrays)
        result = np.asarray(on_arrays(*arrays), dtype=np.float64)
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
