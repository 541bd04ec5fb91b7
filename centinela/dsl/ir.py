"""The checked form of expressions: names resolved to keys, types and units known, conversions explicit."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from centinela.dsl.program import MISSING
from centinela.dsl.units import Unit

__all__ = ["TExpr", "Ty", "const", "is_const", "walk"]


class Ty(Enum):
    """Static type of an expression; ANY is unknown until run time, ERR follows an error (no cascades)."""

    NUM = "number"
    BOOL = "boolean"
    STR = "string"
    ANY = "any"
    ERR = "error"


@dataclass(frozen=True, slots=True, eq=False)
class TExpr:
    """A typed expression node.

    `op` is one of: const (value), load (value = ctx.values key), series (value = (method, key, params)),
    neg, not, arith (value = operator), cmp (value = operator), and, or, coalesce, if, in (value =
    negated), fn (value = math function name), domain (value = domain function name), scale (value =
    (scale, offset)).
    """

    op: str
    args: tuple[TExpr, ...] = ()
    value: Any = None
    ty: Ty = Ty.ANY
    unit: Unit | None = None
    may_miss: bool = True
    text: str = ""


def const(value: Any, ty: Ty, unit: Unit | None = None, text: str = "") -> TExpr:
    return TExpr("const", (), value, ty, unit, value is MISSING, text)


def is_const(e: TExpr) -> bool:
    return e.op == "const"


def walk(e: TExpr) -> list[TExpr]:
    """Every node of `e`, parents first."""
    out = [e]
    for a in e.args:
        out.extend(walk(a))
    return out
