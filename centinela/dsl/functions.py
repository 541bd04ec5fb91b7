"""The built-in functions of the language: math, windows and time; their arity and result rules."""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "BUILTINS",
    "MATH",
    "SERIES",
    "SeriesFn",
    "clamp",
    "domain_functions",
    "function_names",
    "power",
    "round_to",
]


@dataclass(frozen=True, slots=True)
class SeriesFn:
    """A function over a series.

    `shape` lists the arguments after the series (`w` window, `p` percentile, `w?` optional window);
    `result` is same, difference (a change or spread: `degF` → `delta_degF`), none, rate, integral,
    seconds or bool; `cond` wants a boolean series; `timed` means its value changes with time alone.
    """

    shape: tuple[str, ...]
    result: str
    cond: bool = False
    timed: bool = True


SERIES: Mapping[str, SeriesFn] = {
    "avg": SeriesFn(("w",), "same"),
    "min": SeriesFn(("w",), "same"),
    "max": SeriesFn(("w",), "same"),
    "sum": SeriesFn(("w",), "same"),
    "count": SeriesFn(("w",), "none"),
    "stddev": SeriesFn(("w",), "difference"),
    "median": SeriesFn(("w",), "same"),
    "percentile": SeriesFn(("p", "w"), "same"),
    "delta": SeriesFn(("w",), "difference"),
    "rate": SeriesFn(("w",), "rate"),
    "integral": SeriesFn(("w?",), "integral"),
    "previous": SeriesFn((), "same", timed=False),
    "changed": SeriesFn((), "bool", timed=False),
    "age": SeriesFn((), "seconds"),
    "stale": SeriesFn(("w",), "bool"),
    "rising": SeriesFn((), "bool", cond=True, timed=False),
    "falling": SeriesFn((), "bool", cond=True, timed=False),
    "count_true": SeriesFn(("w",), "none", cond=True),
    "duration_true": SeriesFn(("w",), "seconds", cond=True),
}


def clamp(x: float, lo: float, hi: float) -> float:
    """`x` limited to the range [lo, hi]."""
    return lo if x < lo else hi if x > hi else x


# `x ** y` as a real number: ValueError where there is none (`(-8) ** 0.5`, `0 ** -1`), never a complex
power: Callable[[float, float], float] = math.pow


def round_to(x: float, digits: float | None = None) -> float:
    """`x` rounded half to even, to a whole number or to `digits` decimals (numbers arrive as floats)."""
    return round(x) if digits is None else round(x, int(digits))


# name -> (min args, max args, python callable, unit rule: same | sqrt | dimensionless)
MATH: Mapping[str, tuple[int, int, Callable[..., Any], str]] = {
    "abs": (1, 1, abs, "same"),
    "min": (2, 16, min, "same"),
    "max": (2, 16, max, "same"),
    "round": (1, 2, round_to, "same"),
    "floor": (1, 1, math.floor, "same"),
    "ceil": (1, 1, math.ceil, "same"),
    "sqrt": (1, 1, math.sqrt, "sqrt"),
    "exp": (1, 1, math.exp, "dimensionless"),
    "ln": (1, 1, math.log, "dimensionless"),
    "log10": (1, 1, math.log10, "dimensionless"),
    "clamp": (3, 3, clamp, "same"),
}

BUILTINS = frozenset(SERIES) | frozenset(MATH)


def domain_functions() -> Mapping[str, Any]:
    """The domain function registry (`centinela.domain.FUNCTIONS`), empty when it is not installed."""
    try:
        module = importlib.import_module("centinela.domain")
    except ImportError:
        return {}
    functions: Mapping[str, Any] = getattr(module, "FUNCTIONS", {})
    return functions


def function_names() -> list[str]:
    return sorted(BUILTINS | set(domain_functions()))
