"""Python source generation from checked expressions; MISSING-aware, constants folded, names generated."""

from __future__ import annotations

import math
import re
from typing import Any

from centinela.dsl.functions import MATH, domain_functions, power
from centinela.dsl.ir import TExpr
from centinela.dsl.program import MISSING

__all__ = ["Emitter"]

_LITERAL = re.compile(r"^(?:-?[0-9.e+-]+|True|False|'[^'\\]*'|\"[^\"\\]*\")$")
_SIMPLE = re.compile(r"^(?:[A-Za-z_][A-Za-z0-9_]*|-?[0-9.e+-]+|True|False)$")
_PY_CMP = {"==": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_PY_ARITH = {"+": "+", "-": "-", "*": "*", "/": "/", "%": "%"}


class Emitter:
    """Turns typed expressions into Python expression source for one generated module.

    Every identifier in the output is generated here (`_l3`, `_S0`, `_t12`, `_c4`...); every user string
    is emitted with `repr`; values that have no literal form are bound as constants (`_c<n>`).
    """

    def __init__(self) -> None:
        self.consts: dict[str, Any] = {"M": MISSING}
        self._const_ids: dict[tuple[type, Any], str] = {}
        self._tmp = 0

    # ------------------------------------------------------------------ names
    def tmp(self) -> str:
        self._tmp += 1
        return f"_t{self._tmp}"

    def bind(self, value: Any, prefix: str = "_c") -> str:
        key = (type(value), value if isinstance(value, (str, int, float, bool)) else id(value))
        name = self._const_ids.get(key)
        if name is None:
            name = f"{prefix}{len(self.consts)}"
            self.consts[name] = value
            self._const_ids[key] = name
        return name

    def literal(self, value: Any) -> str:
        if value is MISSING:
            return "M"
        if isinstance(value, bool):
            return "True" if value else "False"
        if isinstance(value, int):
            return repr(value)
        if isinstance(value, float):
            return repr(value) if math.isfinite(value) else self.bind(value)
        if isinstance(value, str):
            return repr(value)
        return self.bind(value)

    # ------------------------------------------------------------------ expressions
    def expr(self, e: TExpr, env: dict[str, str], series: dict[str, str]) -> str:
        """Source of `e`; `env` maps ctx keys to local names, `series` maps series keys to local names."""
        op = e.op
        if op == "const":
            return self.literal(e.value)
        if op == "load":
            return env[str(e.value)]
        if op == "series":
            method, key, params = e.value
            args = ", ".join(
                "now" if p is _Now else "None" if p is None else self.literal(p)
                for p in self._series_args(method, params)
            )
            return f"{series[key]}.{method}({args})"
        sub = [(self.expr(a, env, series), a.may_miss) for a in e.args]
        if op == "scale":
            s, o = e.value
            tail = f" * {self.literal(s)}" + (f" + {self.literal(o)}" if o else "")
            return self.guard(sub, lambda n: f"({n[0]}{tail})")
        if op == "neg":
            return self.guard(sub, lambda n: f"(-{n[0]})")
        if op == "not":
            return self.guard(sub, lambda n: f"(not {n[0]})")
        if op == "arith":
            if e.value == "**":
                pw = self.bind(power, "_f")
                return self.guard(sub, lambda n: f"{pw}({n[0]}, {n[1]})")
            py = _PY_ARITH[str(e.value)]
            return self.guard(sub, lambda n: f"({n[0]} {py} {n[1]})")
        if op == "cmp":
            py = _PY_CMP[str(e.value)]
            return self.guard(sub, lambda n: f"({n[0]} {py} {n[1]})")
        if op in ("and", "or"):
            return self._logic(op, e.args, sub)
        if op == "coalesce":
            (a, am), (b, _) = sub
            if not am:
                return a
            t = self.tmp()
            return f"({b} if ({t} := {a}) is M else {t})"
        if op == "if":
            (c, cm), (t_, _), (o, _) = sub
            if not cm:
                return f"({t_} if {c} else {o})"
            t = self.tmp()
            return f"(M if ({t} := {c}) is M else ({t_} if {t} else {o}))"
        if op == "in":
            neg = "not in" if e.value else "in"
            return self.guard(sub, lambda n: f"({n[0]} {neg} ({''.join(f'{o}, ' for o in n[1:])}))")
        if op == "fn":
            fn = self.bind(MATH[str(e.value)][2], "_f")
            return self.guard(sub, lambda n: f"{fn}({', '.join(n)})")
        if op == "domain":
            fn = self.bind(domain_functions()[str(e.value)].fn, "_d")
            return self.guard(sub, lambda n: f"{fn}({', '.join(n)})")
        msg = f"The expression operator '{op}' cannot be compiled."  # pragma: no cover - checker is total
        raise ValueError(msg)  # pragma: no cover

    @staticmethod
    def _series_args(method: str, params: tuple[float | None, ...]) -> list[Any]:
        if method in ("previous", "changed", "rising", "falling"):
            return []
        if method == "age":
            return [_Now]
        if method == "percentile":
            return [_Now, params[1], params[0]]
        return [_Now, *params]

    def guard(self, sub: list[tuple[str, bool]], build: Any) -> str:
        """`build(names)`, or MISSING when any operand that may be missing is."""
        names: list[str] = []
        conds: list[str] = []
        later_miss = [any(m for _, m in sub[i + 1 :]) for i in range(len(sub))]
        for (code, may_miss), later in zip(sub, later_miss, strict=True):
            if code == "M":
                return "M"
            if _LITERAL.match(code) or (not may_miss and (not later or _SIMPLE.match(code))):
                # cannot be missing; complex operands before a possibly missing one still run first
                names.append(code)
            elif _SIMPLE.match(code):
                names.append(code)
                conds.append(f"{code} is M")
            else:
                t = self.tmp()
                conds.append(f"({t} := {code}) is M")
                names.append(t)
        body: str = build(names)
        if not conds:
            return body
        return f"(M if {' or '.join(conds)} else {body})"

    def _logic(self, op: str, args: tuple[TExpr, ...], sub: list[tuple[str, bool]]) -> str:
        """Three-valued `and`/`or`: False and MISSING is False, True or MISSING is True, else MISSING.

        Each operand appears once in the output (no growth with nesting); `b` runs only when `a`
        does not decide alone.
        """
        from centinela.dsl.ir import Ty  # noqa: PLC0415 - avoid a cycle at import time

        codes = []
        for (code, _), arg in zip(sub, args, strict=True):
            codes.append(code if arg.ty is Ty.BOOL else f"_truth({code})")
            if arg.ty is not Ty.BOOL:
                self.consts.setdefault("_truth", truth)
        (a, am), (b, bm) = (codes[0], sub[0][1]), (codes[1], sub[1][1])
        if not am and not bm:
            return f"({a} {op} {b})"
        stop, go = ("False", "True") if op == "and" else ("True", "False")
        ta, tb = self.tmp(), self.tmp()
        return (
            f"({stop} if ({ta} := {a}) is {stop} else ({stop} if ({tb} := {b}) is {stop} else "
            f"(M if {ta} is M or {tb} is M else {go})))"
        )


def truth(value: Any) -> Any:
    """True / False / MISSING from any value (non-boolean values by Python truth)."""
    return value if value is MISSING else bool(value)


class _NowMarker:
    def __repr__(self) -> str:
        return "now"


_Now = _NowMarker()
