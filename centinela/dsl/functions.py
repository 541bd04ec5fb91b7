"""The built-in functions of the language: math, windows and time; their arity and result rules."""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["BUILTINS", "MATH", "SERIES", "SeriesFn", "clamp", "domain_functions", "function_names"]


@dataclass(frozen=True, slots=True)
class SeriesFn:
    """A function over a series.

    `shape` lists the arguments after the series (`w` window, `p` percentile, `w?` optional window);
    `result` is same, none, rate, integral, seconds or bool; `cond` wants a boolean series; `timed`
    means its value changes with time alone.
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
    "stddev": SeriesFn(("w",), "same"),
    "median": SeriesFn(("w",), "same"),
    "percentile": SeriesFn(("p", "w"), "same"),
    "delta": SeriesFn(("w",), "same"),
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


# name -> (min args, max args, python callable, unit rule: same | sqrt | dimensionless)
MATH: Mapping[str, tuple[int, int, Callable[..., Any], str]] = {
    "abs": (1, 1, abs, "same"),
    "min": (2, 16, min, "same"),
    "max": (2, 16, max, "same"),
    "round": (1, 2, round, "same"),
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
