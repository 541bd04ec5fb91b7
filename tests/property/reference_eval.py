"""A small tree-walking evaluator of `.rules` expressions: the oracle compiled code is compared against."""

from __future__ import annotations

import math
import operator
from typing import Any

from centinela.dsl import ast
from centinela.dsl.functions import clamp
from centinela.dsl.paths import resolve_path
from centinela.dsl.program import MISSING


def _pow(x: float, y: float) -> float:
    """A real power or ValueError: no complex results (`(-8) ** 0.5`) and no `0 ** -1`."""
    if x == 0 and y < 0:
        raise ValueError(x, y)
    r = x**y
    if isinstance(r, complex):
        raise ValueError(x, y)
    return float(r)


def _round(x: float, digits: float | None = None) -> float:
    return round(x) if digits is None else round(x, int(digits))


_ARITH = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv, "%": operator.mod,
    "**": _pow, "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
    ">": operator.gt, ">=": operator.ge,
}  # fmt: skip
_MATH = {
    "abs": abs, "min": min, "max": max, "round": _round, "floor": math.floor, "ceil": math.ceil,
    "sqrt": math.sqrt, "exp": math.exp, "ln": math.log, "log10": math.log10, "clamp": clamp,
}  # fmt: skip


def _truth(v: Any) -> Any:
    return v if v is MISSING else bool(v)


def evaluate(e: ast.Expr, values: dict[str, Any]) -> Any:
    """Value of `e` over `values` (ctx keys); raises what the operation raises (e.g. ZeroDivisionError)."""
    match e:
        case ast.Num(value=v):
            return v
        case ast.Str(value=v) | ast.Bool(value=v):
            return v
        case ast.Missing():
            return MISSING
        case ast.Path():
            return values.get(resolve_path(e, frozenset()).key, MISSING)
        case ast.Unary(op="-", operand=a):
            v = evaluate(a, values)
            return MISSING if v is MISSING else -v
        case ast.Unary(op="not", operand=a):
            v = evaluate(a, values)
            return MISSING if v is MISSING else not v
        case ast.Binary(op="and", left=a, right=b):
            x = _truth(evaluate(a, values))
            if x is False:
                return False
            y = _truth(evaluate(b, values))
            if y is False:
                return False
            return MISSING if MISSING in (x, y) else True
        case ast.Binary(op="or", left=a, right=b):
            x = _truth(evaluate(a, values))
            if x is True:
                return True
            y = _truth(evaluate(b, values))
            if y is True:
                return True
            return MISSING if MISSING in (x, y) else False
        case ast.Binary(op="??", left=a, right=b):
            x = evaluate(a, values)
            return evaluate(b, values) if x is MISSING else x
        case ast.Binary(op=op, left=a, right=b):
            # left to right; the first missing operand makes the result missing (the rest is not run)
            x = evaluate(a, values)
            if x is MISSING:
                return MISSING
            y = evaluate(b, values)
            return MISSING if y is MISSING else _ARITH[op](x, y)
        case ast.If(cond=c, then=t, orelse=o):
            x = evaluate(c, values)
            if x is MISSING:
                return MISSING
            return evaluate(t, values) if x else evaluate(o, values)
        case ast.In(value=v, options=opts, negated=neg):
            x = evaluate(v, values)
            if x is MISSING:
                return MISSING
            listed = []
            for o in opts:  # like every operator: a missing option makes the answer missing
                listed.append(evaluate(o, values))
                if listed[-1] is MISSING:
                    return MISSING
            found = x in listed
            return not found if neg else found
        case ast.Call(name=name, args=args):
            xs = []
            for a in args:
                xs.append(evaluate(a, values))
                if xs[-1] is MISSING:
                    return MISSING
            return _MATH[name](*xs)
    msg = f"The reference evaluator does not support {type(e).__name__}."
    raise NotImplementedError(msg)
