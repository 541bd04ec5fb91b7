"""Checked rule expressions evaluated over numpy columns, with the compiled code's MISSING semantics.

A `Col` is one value per evaluation instant: `val` (float64, or bool for booleans), `miss` (True where
the value is MISSING) and `kind` ('f' float, 'i' int, 'b' bool: what the compiled Python would hold).
Anything whose result could differ from the compiled rules (an unsupported operator, a division by
zero, a type mix) raises `NotVectorizable`; the caller then replays through the engine instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from centinela.dsl.ir import TExpr, Ty, walk
from centinela.dsl.program import MISSING
from centinela.errors import CentinelaError

__all__ = ["WINDOW_METHODS", "Col", "NotVectorizable", "evaluate", "series_ops", "to_python"]

WINDOW_METHODS = frozenset({"avg", "sum", "count", "min", "max", "stddev", "delta", "rate"})
_EXACT_INT = 2**53
_CMP: dict[str, Callable[[Any, Any], Any]] = {
    "==": np.equal,
    "!=": np.not_equal,
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
}


class NotVectorizable(CentinelaError):  # noqa: N818 - a decision, not a failure the user sees
    """The vectorized backtest cannot prove it gives the engine's results for this rule or data."""


@dataclass(frozen=True, slots=True)
class Col:
    """A column of values; `miss` marks MISSING."""

    kind: str
    val: npt.NDArray[Any]
    miss: npt.NDArray[np.bool_]

    def take(self, index: npt.NDArray[np.intp]) -> Col:
        return Col(self.kind, self.val[index], self.miss[index])


Env = Callable[[str], Col]
SeriesEnv = Callable[[str, str, tuple[Any, ...]], Col]


def series_ops(e: TExpr) -> list[TExpr]:
    """The series calls inside an expression."""
    return [s for s in walk(e) if s.op == "series"]


def to_python(kind: str, x: Any) -> Any:
    """The Python value the compiled rules would hold for one element."""
    if kind == "b":
        return bool(x)
    if kind == "i":
        return int(x)
    return float(x)


def _const(e: TExpr, n: int) -> Col:
    v = e.value
    if v is MISSING:
        return Col("f", np.zeros(n), np.ones(n, dtype=bool))
    if isinstance(v, bool):
        return Col("b", np.full(n, v, dtype=bool), np.zeros(n, dtype=bool))
    if isinstance(v, int) and abs(v) < _EXACT_INT:
        return Col("i", np.full(n, float(v)), np.zeros(n, dtype=bool))
    if isinstance(v, float):
        return Col("f", np.full(n, v), np.zeros(n, dtype=bool))
    msg = f"The constant {v!r} has no vectorized form."
    raise NotVectorizable(msg)


def _num(c: Col, what: str) -> None:
    if c.kind == "b":
        msg = f"A boolean operand of {what} is not vectorized."
        raise NotVectorizable(msg)


def _arith(op: str, a: Col, b: Col) -> Col:
    _num(a, op)
    _num(b, op)
    miss = a.miss | b.miss
    kind = "i" if a.kind == "i" and b.kind == "i" and op != "/" else "f"
    with np.errstate(all="ignore"):
        if op == "+":
            val = a.val + b.val
        elif op == "-":
            val = a.val - b.val
        elif op == "*":
            val = a.val * b.val
        elif op == "/":
            if np.any((b.val == 0) & ~miss):
                msg = "A division by zero makes a rule's health, which only the engine reports."
                raise NotVectorizable(msg)
            val = a.val / b.val
        else:
            msg = f"The operator {op!r} is not vectorized."
            raise NotVectorizable(msg)
    if kind == "i" and np.any(np.abs(val[~miss]) >= _EXACT_INT):
        msg = "An integer result is too large to be exact as a float."
        raise NotVectorizable(msg)
    return Col(kind, val, miss)


def _logic(op: str, a: Col, b: Col) -> Col:
    """Three-valued and/or: False and MISSING is False, True or MISSING is True, otherwise MISSING."""
    if a.kind != "b" or b.kind != "b":
        msg = f"'{op}' over non-boolean operands is not vectorized."
        raise NotVectorizable(msg)
    stop = op == "or"  # the value that decides alone
    a_stop = ~a.miss & (a.val == stop)
    b_stop = ~b.miss & (b.val == stop)
    decided = a_stop | b_stop
    miss = ~decided & (a.miss | b.miss)
    val = np.where(decided, stop, not stop)
    return Col("b", val.astype(bool), miss)


def evaluate(e: TExpr, n: int, env: Env, series: SeriesEnv) -> Col:
    """The values of `e` at `n` instants; `env(key)` gives loads, `series(method, key, params)` windows."""
    op = e.op
    if op == "const":
        return _const(e, n)
    if op == "load":
        c = env(str(e.value))
        if c.kind == "f" and e.ty not in (Ty.NUM, Ty.ANY):
            msg = f"The input {e.value} is read as {e.ty.value}, which is not vectorized."
            raise NotVectorizable(msg)
        return c
    if op == "series":
        method, key, params = e.value
        return series(str(method), str(key), tuple(params))
    args = [evaluate(a, n, env, series) for a in e.args]
    if op == "neg":
        _num(args[0], op)
        return Col(args[0].kind, -args[0].val, args[0].miss)
    if op == "not":
        if args[0].kind != "b":
            msg_0 = "'not' over a number is not vectorized."
            raise NotVectorizable(msg_0)
        return Col("b", ~args[0].val, args[0].miss)
    if op == "arith":
        return _arith(str(e.value), args[0], args[1])
    if op == "cmp":
        a, b = args
        if str(e.value) not in ("==", "!=") and ("b" in (a.kind, b.kind)):
            msg_0 = "Ordering booleans is not vectorized."
            raise NotVectorizable(msg_0)
        return Col("b", np.asarray(_CMP[str(e.value)](a.val, b.val), dtype=bool), a.miss | b.miss)
    if op in ("and", "or"):
        return _logic(op, args[0], args[1])
    if op == "coalesce":
        a, b = args
        if a.kind != b.kind:
            msg_0 = "'??' over values of two kinds is not vectorized."
            raise NotVectorizable(msg_0)
        return Col(a.kind, np.where(a.miss, b.val, a.val), a.miss & b.miss)
    if op == "if":
        c, t, o = args
        if c.kind != "b" or t.kind != o.kind:
            msg_0 = "'if' over mixed kinds is not vectorized."
            raise NotVectorizable(msg_0)
        return Col(t.kind, np.where(c.val, t.val, o.val), c.miss | np.where(c.val, t.miss, o.miss))
    if op == "scale":
        scale, offset = e.value
        x = args[0]
        _num(x, op)
        s = _const(TExpr("const", value=scale), n)
        out = _arith("*", x, s)
        if offset:
            out = _arith("+", out, _const(TExpr("const", value=offset), n))
        return out
    if op == "fn":
        return _function(str(e.value), args)
    msg = f"The expression operator '{op}' is not vectorized."
    raise NotVectorizable(msg)


def _function(name: str, args: list[Col]) -> Col:
    """The math functions whose numpy form is exact: abs, min, max, clamp, floor, ceil, sqrt."""
    for a in args:
        _num(a, name)
    miss = args[0].miss.copy()
    for a in args[1:]:
        miss |= a.miss
    x = args[0]
    if name == "abs":
        return Col(x.kind, np.abs(x.val), miss)
    if name in ("min", "max", "clamp"):
        if len({a.kind for a in args}) > 1:
            msg = f"{name}() over an integer and a float gives either kind: not vectorized."
            raise NotVectorizable(msg)
        if name == "clamp":  # lo if x < lo else hi if x > hi else x
            lo, hi = args[1].val, args[2].val
            return Col(x.kind, np.where(x.val < lo, lo, np.where(x.val > hi, hi, x.val)), miss)
        val = x.val
        for a in args[1:]:  # Python keeps the first of equal items: replace only when strictly beyond
            val = np.where(a.val < val if name == "min" else a.val > val, a.val, val)
        return Col(x.kind, val, miss)
    if name in ("floor", "ceil"):
        if not np.all(np.isfinite(x.val[~miss])):
            msg = f"{name}() of a non-finite number raises in the rules."
            raise NotVectorizable(msg)
        val = np.floor(x.val) if name == "floor" else np.ceil(x.val)
        if np.any(np.abs(val[~miss]) >= _EXACT_INT):
            msg = f"{name}() gives an integer too large to be exact as a float."
            raise NotVectorizable(msg)
        return Col("i", val, miss)
    if name == "sqrt":
        if np.any(x.val[~miss] < 0):
            msg = "sqrt() of a negative number raises in the rules."
            raise NotVectorizable(msg)
        with np.errstate(invalid="ignore"):  # only where a value is missing
            return Col("f", np.sqrt(x.val), miss)
    msg = f"The function {name}() is not vectorized."
    raise NotVectorizable(msg)
