"""Expression checks: resolve names, infer types and units, fold unit factors; collect diagnostics."""

from __future__ import annotations

import difflib
import json
import operator
from collections.abc import Callable
from typing import Any, Protocol

from centinela.dsl import ast
from centinela.dsl import units as U
from centinela.dsl.diagnostics import Span
from centinela.dsl.functions import BUILTINS, MATH, SERIES, domain_functions, function_names, power
from centinela.dsl.ir import TExpr, Ty, const
from centinela.dsl.paths import PathError, resolve_path
from centinela.dsl.program import MISSING

__all__ = ["ExprChecker", "Host", "text_of"]

_ARITH: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv, "%": operator.mod,
    "**": power,
}  # fmt: skip
_ORDER = {"<", "<=", ">", ">="}
_NUMERIC = {Ty.NUM, Ty.ANY, Ty.ERR}


class Host(Protocol):
    """What the expression checker needs from its twin-class checker."""

    file: str
    lets: frozenset[str]

    def diag(self, code: str, message: str, span: Span, hint: str | None = None) -> None: ...
    def let_type(self, name: str) -> TExpr: ...
    def key_type(self, key: str, kind: str, span: Span) -> tuple[Ty, U.Unit | None]: ...
    def series_key(self, fn: str, arg: TExpr, span: Span) -> str | None: ...
    def use_series(self, key: str, horizon: float) -> None: ...
    def known_names(self) -> list[str]: ...


# Deepest expression tree accepted: the generated Python nests about two brackets per level, and
# CPython's parser refuses more than 200.
MAX_NESTING = 60


def text_of(e: ast.Expr) -> str:
    """A compact source-like text of an expression (explanations, series names)."""
    match e:
        case ast.Num(value=v, unit=u):
            return f"{v:g} {u}" if u else f"{v:g}"
        case ast.Duration(text=t):
            return t
        case ast.Str(value=v):
            return json.dumps(v, ensure_ascii=False)
        case ast.Bool(value=v):
            return "true" if v else "false"
        case ast.Missing():
            return "missing"
        case ast.Path():
            return e.text
        case ast.Unary(op=op, operand=a):
            return f"{op} {text_of(a)}" if op == "not" else f"-{text_of(a)}"
        case ast.Binary(op=op, left=a, right=b):
            return f"({text_of(a)} {op} {text_of(b)})"
        case ast.If(cond=c, then=t, orelse=o):
            return f"(if {text_of(c)} then {text_of(t)} else {text_of(o)})"
        case ast.In(value=v, options=opts, negated=n):
            return f"({text_of(v)} {'not in' if n else 'in'} [{', '.join(text_of(o) for o in opts)}])"
        case ast.Call(name=n, args=args):
            return f"{n}({', '.join(text_of(a) for a in args)})"
    return "?"  # pragma: no cover


class ExprChecker:
    """Checks one expression tree against a host (a twin class being checked)."""

    def __init__(self, host: Host) -> None:
        self.h = host
        self._depth = 0
        self._too_deep = False

    # ------------------------------------------------------------------ helpers
    def _err(self, code: str, message: str, span: Span, hint: str | None = None) -> TExpr:
        self.h.diag(code, message, span, hint)
        return TExpr("const", (), MISSING, Ty.ERR, None, True, "")

    def scale(self, e: TExpr, frm: U.Unit, to: U.Unit) -> TExpr:
        """`e` (in `frm`) converted to `to`; the factor is folded into constants."""
        if frm.text == to.text:
            return e
        s, o = U.conversion(frm, to)
        if s == 1.0 and o == 0.0:
            return TExpr(e.op, e.args, e.value, e.ty, to, e.may_miss, e.text)
        if e.op == "const" and isinstance(e.value, (int, float)) and not isinstance(e.value, bool):
            return const(e.value * s + o, e.ty, to, e.text)
        if o == 0.0 and e.op == "arith" and e.value in ("*", "/"):
            # `x * 2` converted by s is `x * (2 s)`: one multiply per reading, not two
            a, b = e.args
            if b.op == "const" and _plain(b.value) and b.value != 0:
                factor = b.value * s if e.value == "*" else b.value / s
                folded = const(factor, b.ty, b.unit, b.text)
                return TExpr("arith", (a, folded), e.value, e.ty, to, e.may_miss, e.text)
            if a.op == "const" and _plain(a.value):
                folded = const(a.value * s, a.ty, a.unit, a.text)
                return TExpr("arith", (folded, b), e.value, e.ty, to, e.may_miss, e.text)
        return TExpr("scale", (e,), (s, o), e.ty, to, e.may_miss, e.text)

    def unify(self, a: TExpr, b: TExpr, span: Span, what: str) -> tuple[TExpr, TExpr, U.Unit | None]:
        """Bring two operands to one unit (converting the constant side when there is one)."""
        ua, ub = a.unit, b.unit
        if ua is None or ub is None:
            return a, b, ua or ub
        if Ty.ERR in (a.ty, b.ty):  # already reported: a unit guessed around an error is not checked
            return a, b, None
        if not U.compatible(ua, ub):
            self.h.diag(
                "E031",
                f"The units of {what} are incompatible: '{a.text}' is in '{ua}' ({U.describe(ua)}) and "
                f"'{b.text}' is in '{ub}' ({U.describe(ub)}).",
                span,
                f"convert one side to {U.describe(ua)}, or fix the unit declared for the input",
            )
            return a, TExpr(b.op, b.args, b.value, Ty.ERR, None, b.may_miss, b.text), None
        if a.op == "const" and b.op != "const":
            return self.scale(a, ua, ub), b, ub
        return a, self.scale(b, ub, ua), ua

    def _need(self, e: TExpr, allowed: set[Ty], what: str, span: Span) -> bool:
        if e.ty in allowed or e.ty is Ty.ERR:
            return True
        self.h.diag(
            "E020",
            f"{what} needs {' or '.join(sorted(t.value for t in allowed if t is not Ty.ANY))}, "
            f"but '{e.text}' is a {e.ty.value}.",
            span,
        )
        return False

    # ------------------------------------------------------------------ entry
    def check(self, e: ast.Expr) -> TExpr:
        """The typed form of `e`; E025 (once per expression) when it nests deeper than MAX_NESTING."""
        if self._depth >= MAX_NESTING:
            if not self._too_deep:
                self._too_deep = True
                self.h.diag(
                    "E025",
                    f"The expression nests deeper than {MAX_NESTING} levels.",
                    e.span,
                    "split it into lets or computes",
                )
            return TExpr("const", (), MISSING, Ty.ERR, None, True, "")
        self._depth += 1
        try:
            return self._check(e)
        finally:
            self._depth -= 1
            if self._depth == 0:
                self._too_deep = False

    def _check(self, e: ast.Expr) -> TExpr:
        text = text_of(e)
        match e:
            case ast.Num(value=v, unit=u):
                if u is None:
                    return const(v, Ty.NUM, None, text)
                try:
                    unit = U.parse_unit(u)
                except U.UnitError as exc:
                    return self._err(
                        "E030",
                        str(exc),
                        e.span,
                        "units are checked with pint and the oilfield units of centinela.dsl.units",
                    )
                return const(v, Ty.NUM, unit, text)
            case ast.Duration(seconds=s):
                return const(s, Ty.NUM, U.SECOND, text)
            case ast.Str(value=v):
                return const(v, Ty.STR, None, text)
            case ast.Bool(value=v):
                return const(v, Ty.BOOL, None, text)
            case ast.Missing():
                return const(MISSING, Ty.ANY, None, text)
            case ast.Path():
                return self._path(e, text)
            case ast.Unary():
                return self._unary(e, text)
            case ast.Binary():
                return self._binary(e, text)
            case ast.If():
                return self._if(e, text)
            case ast.In():
                return self._in(e, text)
            case ast.Call():
                return self._call(e, text)
        return self._err("E001", "This expression is not supported.", e.span)  # pragma: no cover

    def _path(self, e: ast.Path, text: str) -> TExpr:
        try:
            r = resolve_path(e, self.h.lets)
        except PathError as exc:
            hint = exc.hint
            if exc.code == "E013":
                near = difflib.get_close_matches(e.segments[0], self.h.known_names(), n=1)
                hint = f"did you mean '{near[0]}'?" if near else "declare it with `let Class.name = ...`"
            return self._err(exc.code, str(exc), e.span, hint)
        if r.kind == "let":
            info = self.h.let_type(e.segments[0])
            return TExpr("load", (), r.key, info.ty, info.unit, info.may_miss, text)
        if r.kind == "thing":
            return TExpr("load", (), r.key, Ty.STR, None, False, text)
        ty, unit = self.h.key_type(r.key, r.kind, e.span)
        return TExpr("load", (), r.key, ty, unit, True, text)

    def _unary(self, e: ast.Unary, text: str) -> TExpr:
        a = self.check(e.operand)
        if e.op == "not":
            self._need(a, {Ty.BOOL, Ty.ANY}, "'not'", e.span)
            if a.op == "const" and isinstance(a.value, bool):
                return const(not a.value, Ty.BOOL, None, text)
            return TExpr("not", (a,), None, Ty.BOOL, None, a.may_miss, text)
        self._need(a, {Ty.NUM, Ty.ANY}, "'-'", e.span)
        if a.op == "const" and isinstance(a.value, (int, float)) and not isinstance(a.value, bool):
            return const(-a.value, Ty.NUM, a.unit, text)
        return TExpr("neg", (a,), None, Ty.NUM if a.ty is not Ty.ERR else Ty.ERR, a.unit, a.may_miss, text)

    def _binary(self, e: ast.Binary, text: str) -> TExpr:
        a, b, op = self.check(e.left), self.check(e.right), e.op
        err = Ty.ERR in (a.ty, b.ty)
        if op in ("and", "or"):
            self._need(a, {Ty.BOOL, Ty.ANY}, f"'{op}'", e.left.span)
            self._need(b, {Ty.BOOL, Ty.ANY}, f"'{op}'", e.right.span)
            return TExpr(op, (a, b), None, Ty.ERR if err else Ty.BOOL, None, a.may_miss or b.may_miss, text)
        if op == "??":
            if not err and Ty.ANY not in (a.ty, b.ty) and a.ty is not b.ty:
                self.h.diag(
                    "E020",
                    f"'??' needs both sides of one type, but '{a.text}' is a {a.ty.value} and "
                    f"'{b.text}' is a {b.ty.value}.",
                    e.span,
                )
            a, b, unit = self.unify(a, b, e.span, f"'{text}'")
            ty = a.ty if a.ty is not Ty.ANY else b.ty
            return TExpr("coalesce", (a, b), None, ty, unit, a.may_miss and b.may_miss, text)
        if op in ("==", "!=") or op in _ORDER:
            ok_types = {Ty.NUM, Ty.STR, Ty.ANY} if op in _ORDER else set(Ty)
            self._need(a, ok_types, f"'{op}'", e.left.span)
            self._need(b, ok_types, f"'{op}'", e.right.span)
            if not err and Ty.ANY not in (a.ty, b.ty) and a.ty is not b.ty:
                self.h.diag(
                    "E020",
                    f"'{op}' compares a {a.ty.value} ('{a.text}') with a {b.ty.value} "
                    f"('{b.text}'); the result would always be the same.",
                    e.span,
                )
            a, b, _ = self.unify(a, b, e.span, f"'{text}'")
            return TExpr("cmp", (a, b), op, Ty.ERR if err else Ty.BOOL, None, a.may_miss or b.may_miss, text)
        self._need(a, {Ty.NUM, Ty.ANY}, f"'{op}'", e.left.span)
        self._need(b, {Ty.NUM, Ty.ANY}, f"'{op}'", e.right.span)
        unit = self._arith_unit(op, a, b, e, text)
        if isinstance(unit, tuple):
            a, b, unit = unit
        ty = Ty.ERR if err else Ty.NUM
        if a.op == "const" and b.op == "const" and not err and _plain(a.value) and _plain(b.value):
            try:
                return const(_ARITH[op](a.value, b.value), ty, unit, text)
            except (ArithmeticError, ValueError):
                pass  # left to run time, where it becomes the rule's health
        return TExpr("arith", (a, b), op, ty, unit, a.may_miss or b.may_miss, text)

    def _arith_unit(self, op: str, a: TExpr, b: TExpr, e: ast.Binary, text: str) -> Any:
        if op in ("+", "-") and a.unit is not None and b.unit is not None:
            # absolute temperatures: degF - degF is a difference (delta_degF); degF ± delta_degF is a degF
            if U.is_offset(a.unit) and not U.is_offset(b.unit):
                da = U.delta(a.unit)
                if U.compatible(b.unit, da):
                    return a, self.scale(b, b.unit, da), a.unit
            if op == "-" and U.is_offset(a.unit) and U.is_offset(b.unit) and U.compatible(a.unit, b.unit):
                a2, b2, unit = self.unify(a, b, e.span, f"'{text}'")
                return a2, b2, U.delta(unit) if unit is not None else None
            if op == "+" and U.is_offset(a.unit) and U.is_offset(b.unit):
                self.h.diag(
                    "E031",
                    f"'{text}' adds two absolute temperatures ('{a.text}' in '{a.unit}' and '{b.text}' in "
                    f"'{b.unit}'); only a temperature difference can be added to a temperature.",
                    e.span,
                    f"write the added amount as a difference ('{U.delta(b.unit)}'), or subtract the two "
                    "temperatures to get one",
                )
                return a, b, None
        if op in ("+", "-", "%"):
            return self.unify(a, b, e.span, f"'{text}'")
        ua, ub = a.unit, b.unit
        if op == "*":
            return U.multiply(ua, ub) if ua and ub else ua or ub
        if op == "/":
            if ua and ub:
                return U.divide(ua, ub)
            return ua if ua else (U.divide(U.DIMENSIONLESS, ub) if ub and a.op == "const" else None)
        # power: a unit needs a constant exponent
        if ub is not None and not ub.is_dimensionless():
            self.h.diag(
                "E034", f"The exponent '{b.text}' must be a plain number, not a value in '{ub}'.", e.span
            )
            return None
        if ua is None:
            return None
        if b.op == "const" and _plain(b.value):
            return U.power(ua, float(b.value))
        self.h.diag(
            "E034", f"'{a.text}' is in '{ua}', so its exponent must be a constant, not '{b.text}'.", e.span
        )
        return None

    def _if(self, e: ast.If, text: str) -> TExpr:
        c, t, o = self.check(e.cond), self.check(e.then), self.check(e.orelse)
        self._need(c, {Ty.BOOL, Ty.ANY}, "The condition of 'if'", e.cond.span)
        if Ty.ERR not in (t.ty, o.ty) and Ty.ANY not in (t.ty, o.ty) and t.ty is not o.ty:
            self.h.diag(
                "E020",
                f"The branches of 'if' have different types: '{t.text}' is a {t.ty.value} and "
                f"'{o.text}' is a {o.ty.value}.",
                e.span,
            )
        t, o, unit = self.unify(t, o, e.span, "the branches of 'if'")
        ty = t.ty if t.ty is not Ty.ANY else o.ty
        if c.op == "const" and isinstance(c.value, bool):
            return t if c.value else o
        return TExpr("if", (c, t, o), None, ty, unit, c.may_miss or t.may_miss or o.may_miss, text)

    def _in(self, e: ast.In, text: str) -> TExpr:
        v = self.check(e.value)
        opts = []
        for o in e.options:
            t = self.check(o)
            if Ty.ERR not in (v.ty, t.ty) and Ty.ANY not in (v.ty, t.ty) and t.ty is not v.ty:
                self.h.diag(
                    "E020",
                    f"'{t.text}' is a {t.ty.value} but '{v.text}' is a {v.ty.value}; they never "
                    "compare equal.",
                    o.span,
                )
            _, t, _ = self.unify(v, t, o.span, f"'{text}'")
            opts.append(t)
        if not opts:
            self.h.diag(
                "E020",
                f"The list of '{text}' is empty, so the test would always give the same answer.",
                e.span,
                "list at least one value",
            )
        may_miss = v.may_miss or any(t.may_miss for t in opts)
        return TExpr("in", (v, *opts), e.negated, Ty.BOOL, None, may_miss, text)

    # ------------------------------------------------------------------ calls
    def _call(self, e: ast.Call, text: str) -> TExpr:
        name, n = e.name, len(e.args)
        is_window = name in SERIES and not (
            name in ("min", "max")
            and (n != 2 or not isinstance(e.args[1], (ast.Duration,)) and not _time_qty(e.args[1]))
        )
        if is_window:
            return self._series(e, text)
        if name in MATH:
            return self._math(e, text)
        dom = domain_functions().get(name)
        if dom is not None:
            return self._domain(e, dom, text)
        near = difflib.get_close_matches(name, function_names(), n=1)
        hint = (
            (f"did you mean '{near[0]}'? " if near else "")
            + "functions: "
            + ", ".join(sorted(BUILTINS))
            + ", and the domain functions of docs/domain-functions.md"
        )
        for a in e.args:
            self.check(a)
        return self._err("E014", f"The function '{name}' does not exist.", e.name_span, hint)

    def _arity(self, e: ast.Call, lo: int, hi: int, usage: str) -> bool:
        if lo <= len(e.args) <= hi:
            return True
        want = str(lo) if lo == hi else f"{lo} to {hi}"
        noun = "argument" if want == "1" else "arguments"
        self.h.diag(
            "E015",
            f"The function '{e.name}' takes {want} {noun}, not {len(e.args)}.",
            e.span,
            f"usage: {usage}",
        )
        return False

    def window(self, arg: ast.Expr, fn: str) -> float | None:
        """A window argument: a constant duration (`5m`, `30 min`); diagnostic otherwise."""
        if isinstance(arg, ast.Duration):
            seconds = arg.seconds
        elif isinstance(arg, ast.Num) and arg.unit and _time_qty(arg):
            seconds = arg.value * U.conversion(U.parse_unit(arg.unit), U.SECOND)[0]
        else:
            self.h.diag(
                "E023",
                f"The window of '{fn}' must be a constant duration, not '{text_of(arg)}'.",
                arg.span,
                "write a duration such as 30s, 5m, 1h or 2d",
            )
            return None
        if seconds <= 0:
            self.h.diag(
                "E057", f"The window of '{fn}' must be longer than zero, not '{text_of(arg)}'.", arg.span
            )
            return None
        return seconds

    def _series(self, e: ast.Call, text: str) -> TExpr:
        spec = SERIES[e.name]
        required = sum(1 for s in spec.shape if not s.endswith("?"))
        usage = f"{e.name}({', '.join(['x', *spec.shape]).replace('w?', '[w]')})"
        if not self._arity(e, 1 + required, 1 + len(spec.shape), usage):
            for a in e.args:
                self.check(a)
            return TExpr("const", (), MISSING, Ty.ERR, None, True, text)
        x = self.check(e.args[0])
        if spec.cond:
            self._need(x, {Ty.BOOL, Ty.ANY}, f"'{e.name}'", e.args[0].span)
        elif spec.result not in ("bool",) and e.name not in ("previous", "count"):
            self._need(x, {Ty.NUM, Ty.ANY}, f"'{e.name}'", e.args[0].span)
        params: list[float | None] = []
        horizon = 0.0
        for shape, arg in zip(spec.shape, e.args[1:], strict=False):
            if shape == "p":
                p = self.check(arg)
                if p.op != "const" or not _plain(p.value) or not 0 <= float(p.value) <= 100:
                    self.h.diag(
                        "E024",
                        f"The percentile of '{e.name}' must be a constant from 0 to 100, not "
                        f"'{text_of(arg)}'.",
                        arg.span,
                    )
                    params.append(50.0)
                else:
                    params.append(float(p.value))
            else:
                w = self.window(arg, e.name)
                params.append(w)
                horizon = max(horizon, w or 0.0)
        if len(params) < len(spec.shape):
            params.append(None)  # integral(x): since the start
        key = self.h.series_key(e.name, x, e.args[0].span)
        if key is None or x.ty is Ty.ERR:
            return TExpr("const", (), MISSING, Ty.ERR, None, True, text)
        self.h.use_series(key, horizon)
        ty, unit = self._series_result(spec.result, x)
        return TExpr("series", (), (e.name, key, tuple(params)), ty, unit, True, text)

    def _series_result(self, result: str, x: TExpr) -> tuple[Ty, U.Unit | None]:
        if result == "same":
            return (x.ty if x.ty is not Ty.BOOL else Ty.ANY), x.unit
        if result == "difference":
            return (x.ty if x.ty is not Ty.BOOL else Ty.ANY), U.delta(x.unit) if x.unit else None
        if result == "none":
            return Ty.NUM, None
        if result == "rate":
            return Ty.NUM, U.per_second(x.unit) if x.unit else None
        if result == "integral":
            return Ty.NUM, U.times_second(x.unit) if x.unit else None
        if result == "seconds":
            return Ty.NUM, U.SECOND
        return Ty.BOOL, None

    def _math(self, e: ast.Call, text: str) -> TExpr:
        lo, hi, _fn, rule = MATH[e.name]
        usage = {"round": "round(x) or round(x, digits)", "clamp": "clamp(x, low, high)"}.get(
            e.name, f"{e.name}(a, b, ...)" if hi > 1 else f"{e.name}(x)"
        )
        args = [self.check(a) for a in e.args]
        if not self._arity(e, lo, hi, usage):
            return TExpr("const", (), MISSING, Ty.ERR, None, True, text)
        for a, node in zip(args, e.args, strict=True):
            self._need(a, {Ty.NUM, Ty.ANY}, f"'{e.name}'", node.span)
        first = args[0]
        unit = first.unit
        if e.name in ("min", "max", "clamp"):
            for i in range(1, len(args)):
                _, args[i], u2 = self.unify(first, args[i], e.args[i].span, f"the arguments of '{e.name}'")
                unit = unit or u2
        elif e.name == "round" and len(args) == 2 and args[1].unit is not None:
            if args[1].unit.is_dimensionless():
                args[1] = self.scale(args[1], args[1].unit, U.DIMENSIONLESS)
            else:
                self.h.diag(
                    "E034",
                    f"The digits of 'round' must be a plain number, not '{args[1].text}'.",
                    e.args[1].span,
                )
        if rule == "sqrt" and unit is not None:
            unit = U.power(unit, 0.5)
        elif rule == "dimensionless" and unit is not None:
            if not unit.is_dimensionless():
                self.h.diag(
                    "E034",
                    f"'{e.name}' needs a dimensionless argument, but '{first.text}' is in '{unit}' "
                    f"({U.describe(unit)}).",
                    e.args[0].span,
                    "divide by a reference value first",
                )
            else:
                args[0] = self.scale(first, unit, U.DIMENSIONLESS)
            unit = None
        ty = Ty.ERR if any(a.ty is Ty.ERR for a in args) else Ty.NUM
        return TExpr("fn", tuple(args), e.name, ty, unit, any(a.may_miss for a in args), text)

    def _domain(self, e: ast.Call, dom: Any, text: str) -> TExpr:
        params = dom.params
        names = ", ".join(p for p, _ in params)
        args = [self.check(a) for a in e.args]
        if not self._arity(e, len(params), len(params), f"{e.name}({names})"):
            return TExpr("const", (), MISSING, Ty.ERR, None, True, text)
        out = []
        for (pname, punit), a, node in zip(params, args, e.args, strict=True):
            self._need(a, {Ty.NUM, Ty.ANY}, f"'{e.name}'", node.span)
            if punit and a.unit is not None:
                want = U.parse_unit(punit)
                if not U.compatible(a.unit, want):
                    self.h.diag(
                        "E034",
                        f"The argument '{pname}' of '{e.name}' must be in {U.describe(want)} "
                        f"(for example '{want}'), but '{a.text}' is in '{a.unit}' ({U.describe(a.unit)}).",
                        node.span,
                    )
                else:
                    a = self.scale(a, a.unit, want)
            out.append(a)
        unit = U.parse_unit(dom.result_unit) if dom.result_unit else None
        ty = Ty.ERR if any(a.ty is Ty.ERR for a in out) else Ty.NUM
        return TExpr("domain", tuple(out), e.name, ty, unit, any(a.may_miss for a in out), text)


def _plain(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _time_qty(arg: ast.Expr) -> bool:
    if not isinstance(arg, ast.Num) or not arg.unit:
        return False
    try:
        return U.compatible(U.parse_unit(arg.unit), U.SECOND)
    except U.UnitError:
        return False
