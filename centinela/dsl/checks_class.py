"""Checks of one twin class: lets, computes, alarms, units, series and the dependency graph."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from centinela.dsl import ast
from centinela.dsl import units as U
from centinela.dsl.checked import CheckedAlarm, CheckedClass, CheckedNode
from centinela.dsl.checks_expr import ExprChecker
from centinela.dsl.diagnostics import Diagnostic, Level, Span
from centinela.dsl.ir import TExpr, Ty, const, walk
from centinela.dsl.paths import PathError, resolve_path
from centinela.dsl.program import MISSING, MissingPolicy, NodeKind, Severity
from centinela.dsl.templates import check_template

__all__ = ["ClassDecls", "ClassChecker", "SEVERITIES"]

SEVERITIES = {
    "critical": Severity.CRITICAL, "high": Severity.HIGH, "medium": Severity.MEDIUM, "low": Severity.LOW,
    "warning": Severity.MEDIUM, "info": Severity.LOW,
}  # fmt: skip
_POLICIES = {"raise": MissingPolicy.RAISE, "clear": MissingPolicy.CLEAR, "hold": MissingPolicy.HOLD}
_CLEAR_OF = {">": "<", ">=": "<=", "<": ">", "<=": ">="}


@dataclass(slots=True)
class ClassDecls:
    """Every declaration of one twin class, gathered over all files."""

    twins: ast.TwinsDecl
    units: list[ast.UnitEntry] = field(default_factory=list)
    lets: dict[str, ast.LetDecl] = field(default_factory=dict)
    computes: dict[str, ast.ComputeDecl] = field(default_factory=dict)  # pointer -> decl
    alarms: dict[str, ast.AlarmDecl] = field(default_factory=dict)


class ClassChecker:
    """Checks one twin class; implements the expression checker's `Host`."""

    def __init__(self, decls: ClassDecls, diagnostics: list[Diagnostic]) -> None:
        self.d = decls
        self.out = diagnostics
        self.lets = frozenset(decls.lets)
        self.file = decls.twins.span.file
        self.cls = CheckedClass(
            decls.twins.name, decls.twins.definition, decls.twins.id_glob, None, decls.twins.span
        )
        self.x = ExprChecker(self)
        self.input_units: dict[str, U.Unit] = {}
        self.features: set[str] = set()
        self._done: dict[str, CheckedNode] = {}
        self._busy: set[str] = set()
        self._derived: dict[str, str] = {}  # expression text -> series key
        self._warned: set[str] = set()
        self._order = 0

    # ------------------------------------------------------------------ Host
    def diag(self, code: str, message: str, span: Span, hint: str | None = None) -> None:
        level = Level.WARNING if code.startswith("W") else Level.ERROR
        self.out.append(Diagnostic(code, message, span, hint, level))

    def known_names(self) -> list[str]:
        return sorted(self.lets)

    def let_type(self, name: str) -> TExpr:
        node = self._let(name)
        return node.expr if node is not None else TExpr("const", (), MISSING, Ty.ANY, None, True, name)

    def key_type(self, key: str, kind: str, span: Span) -> tuple[Ty, U.Unit | None]:
        if key in self.d.computes:
            node = self._compute(key)
            if node is None:
                return Ty.ANY, None
            return node.expr.ty, node.unit
        self.cls.inputs.add(key)
        if key in self.input_units:
            return Ty.NUM, self.input_units[key]
        if kind == "input" and self.features and key not in self._warned:
            feature = key.split("/")[2]
            if feature in self.features:
                # once per path; candidates are the known paths of the same feature (kept small)
                self._warned.add(key)
                prefix = f"/features/{feature}/"
                known = sorted(k for k in (*self.input_units, *self.d.computes) if k.startswith(prefix))
                near = difflib.get_close_matches(key, known, n=1) if len(known) <= 200 else []
                self.diag(
                    "W001",
                    f"The path '{_dotted(key)}' is neither declared in a units block of "
                    f"{self.cls.name} nor computed; it is read unchecked.",
                    span,
                    f"did you mean '{_dotted(near[0])}'?" if near else "declare its unit in a units block",
                )
        return Ty.ANY, None

    def series_key(self, fn: str, arg: TExpr, span: Span) -> str | None:
        if arg.op == "load":
            key = str(arg.value)
            if key.startswith("thing:"):
                self.diag("E022", f"'{fn}' needs a value that changes over time, not '{arg.text}'.", span)
                return None
            path: str | None = key if key in self.cls.inputs else None
            if key not in self.cls.series or self.cls.series[key][0] is None:
                self.cls.series.setdefault(key, (path, 0.0))
            return key
        if arg.op == "const":
            self.diag(
                "E022", f"'{fn}' needs a value that changes over time, not the constant '{arg.text}'.", span
            )
            return None
        dkey = self._derived.get(arg.text)
        if dkey is None:
            dkey = f"expr:{len(self._derived)}"
            self._derived[arg.text] = dkey
            self._add(
                CheckedNode(NodeKind.SERIES, arg.text, dkey, arg, arg.unit, span, arg.text, self._next())
            )
            self.cls.series[dkey] = (None, 0.0)
        return dkey

    def use_series(self, key: str, horizon: float) -> None:
        path, old = self.cls.series.get(key, (None, 0.0))
        self.cls.series[key] = (path, max(old, horizon))

    # ------------------------------------------------------------------ nodes
    def _next(self) -> int:
        self._order += 1
        return self._order

    def _add(self, node: CheckedNode) -> CheckedNode:
        self.cls.nodes.append(node)
        self._done[node.key] = node
        return node

    def _let(self, name: str) -> CheckedNode | None:
        key = f"let:{name}"
        if key in self._done:
            return self._done[key]
        if key in self._busy:
            return None  # a cycle: reported by the graph check
        decl = self.d.lets[name]
        self._busy.add(key)
        order = self._next()
        expr = self.x.check(decl.expr)
        self._busy.discard(key)
        return self._add(CheckedNode(NodeKind.LET, name, key, expr, expr.unit, decl.span, decl.source, order))

    def _compute(self, key: str) -> CheckedNode | None:
        if key in self._done:
            return self._done[key]
        if key in self._busy:
            return None
        decl = self.d.computes[key]
        self._busy.add(key)
        order = self._next()
        expr = self.x.check(decl.expr)
        self._busy.discard(key)
        unit = expr.unit
        if decl.unit is not None:
            try:
                want = U.parse_unit(decl.unit)
            except U.UnitError as exc:
                self.diag("E030", str(exc), decl.unit_span or decl.span)
                want = None
            have = expr.unit
            if want is not None and have is not None and expr.ty is not Ty.ERR:
                if U.compatible(have, want):
                    expr = self.x.scale(expr, have, want)
                else:
                    self.diag(
                        "E032",
                        f"The compute {decl.path.text} declares '{want}' ({U.describe(want)}), but "
                        f"its expression is in '{have}' ({U.describe(have)}).",
                        decl.expr.span,
                        f"make the expression a {U.describe(want)} or change the declared unit",
                    )
            unit = want
        if expr.ty is Ty.BOOL or expr.ty is Ty.STR:
            unit = None
        return self._add(
            CheckedNode(NodeKind.COMPUTE, decl.path.text, key, expr, unit, decl.span, decl.source, order)
        )

    # ------------------------------------------------------------------ run
    def run(self) -> CheckedClass:
        self._units()
        if self.d.twins.where is not None:
            where = self.x.check(self.d.twins.where)
            self._condition(where, self.d.twins.where.span, "The 'where' filter")
            self.cls.where = where
        for name in self.d.lets:
            self._let(name)
        for key in self.d.computes:
            self._compute(key)
        for alarm in self.d.alarms.values():
            self._alarm(alarm)
        for node in self.cls.nodes:
            node.reads = _reads(node)
        return self.cls

    def _units(self) -> None:
        for entry in self.d.units:
            try:
                unit = U.parse_unit(entry.unit)
            except U.UnitError as exc:
                self.diag("E030", str(exc), entry.unit_span)
                continue
            for path in entry.paths:
                try:
                    r = resolve_path(path, frozenset())
                except PathError as exc:
                    self.diag(exc.code, str(exc), path.span, exc.hint)
                    continue
                if r.kind not in ("input", "attribute", "desired"):
                    self.diag(
                        "E016",
                        f"The path '{path.text}' cannot have a unit: it is not a property or an attribute.",
                        path.span,
                    )
                    continue
                if r.key in self.d.computes:
                    self.diag(
                        "E041",
                        f"The path '{path.text}' is computed by a rule; declare its unit on the "
                        "compute, not in a units block.",
                        path.span,
                        f"compute {self.cls.name} {path.text} : {unit} = ...",
                    )
                    continue
                old = self.input_units.get(r.key)
                if old is not None and old.text != unit.text:
                    self.diag(
                        "E033",
                        f"The path '{path.text}' is declared twice with different units, '{old}' "
                        f"and '{unit}'.",
                        path.span,
                    )
                    continue
                self.input_units[r.key] = unit
                if r.kind == "input":
                    self.features.add(r.key.split("/")[2])

    def _condition(self, e: TExpr, span: Span, what: str) -> None:
        if e.ty not in (Ty.BOOL, Ty.ANY, Ty.ERR):
            self.diag(
                "E021",
                f"{what} must be true or false, but '{e.text}' is a {e.ty.value}.",
                span,
                "compare it, e.g. `x > 0`",
            )
        elif e.ty is not Ty.ERR and not any(s.op in ("load", "series") for s in walk(e)):
            self.diag(
                "W002",
                f"{what} never changes: '{e.text}' reads no input.",
                span,
                "compare an input or a let, e.g. `pressure.tubing > 3000 psi`",
            )

    def _alarm(self, decl: ast.AlarmDecl) -> None:
        seen: dict[str, ast.Clause] = {}
        for c in decl.clauses:
            if c.kind in seen:
                first = seen[c.kind].span
                self.diag(
                    "E051",
                    f"The alarm {decl.name} has a second '{c.kind.replace('_', ' ')}' clause.",
                    c.span,
                    f"the first one is at line {first.line}",
                )
            else:
                seen[c.kind] = c
        when_c = seen.get("when")
        if when_c is None or when_c.expr is None:
            self.diag(
                "E050",
                f"The alarm {decl.name} has no 'when' condition.",
                decl.name_span,
                "add `when <condition>` (optionally `for <duration>`)",
            )
        order = self._next()
        when = None
        if when_c is not None and when_c.expr is not None:
            when = self.x.check(when_c.expr)
            self._condition(when, when_c.expr.span, f"The condition of alarm {decl.name}")
        severity = Severity.MEDIUM
        if (sev_c := seen.get("severity")) is not None:
            sev = SEVERITIES.get(sev_c.text or "")
            if sev is None:
                near = difflib.get_close_matches(sev_c.text or "", list(SEVERITIES), n=1)
                self.diag(
                    "E052",
                    f"The severity '{sev_c.text}' of alarm {decl.name} is unknown.",
                    sev_c.text_span or sev_c.span,
                    (f"did you mean '{near[0]}'? " if near else "") + "severities: critical, high, medium "
                    "(alias warning), low (alias info)",
                )
            else:
                severity = sev
        policy = MissingPolicy.HOLD
        if (pol_c := seen.get("on_missing")) is not None:
            pol = _POLICIES.get(pol_c.text or "")
            if pol is None:
                self.diag(
                    "E053",
                    f"'on missing {pol_c.text}' is not a policy of alarm {decl.name}.",
                    pol_c.text_span or pol_c.span,
                    "write `on missing raise`, `on missing clear` or `on missing hold`",
                )
            else:
                policy = pol
        clear_c, clear = seen.get("clear"), None
        if clear_c is not None and clear_c.expr is not None:
            clear = self.x.check(clear_c.expr)
            self._condition(clear, clear_c.expr.span, f"The clear condition of alarm {decl.name}")
        suppress = None
        if (sup_c := seen.get("suppress")) is not None and sup_c.expr is not None:
            suppress = self.x.check(sup_c.expr)
            self._condition(suppress, sup_c.expr.span, f"The suppress condition of alarm {decl.name}")
        deadband = None
        if (dead_c := seen.get("deadband")) is not None and dead_c.expr is not None and when is not None:
            deadband, clear = self._deadband(decl, dead_c, when, clear)
        chatter = None
        if (chat_c := seen.get("chatter")) is not None:
            if (
                chat_c.count is None
                or not float(chat_c.count).is_integer()
                or chat_c.count < 1
                or not chat_c.seconds
            ):
                self.diag(
                    "E056",
                    f"The chatter limit of alarm {decl.name} must be a whole number of transitions "
                    "in a positive duration.",
                    chat_c.span,
                    "write `chatter 5 in 10m`",
                )
            else:
                chatter = (int(chat_c.count), chat_c.seconds)
        message = None
        if (msg_c := seen.get("message")) is not None and msg_c.text is not None:
            message = self._template(decl, msg_c)
        if when is None or when_c is None:
            return  # reported above (E050); the other clauses were checked all the same
        alarm = CheckedAlarm(
            severity,
            when_c.seconds or 0.0,
            clear,
            (clear_c.seconds or 0.0) if clear_c else 0.0,
            "latch" in seen,
            suppress,
            policy,
            message,
            _operands(when),
            chatter,
            deadband,
        )
        self._add(
            CheckedNode(
                NodeKind.ALARM,
                decl.name,
                f"alarm:{decl.name}",
                when,
                None,
                decl.name_span,
                decl.source,
                order,
                alarm,
            )
        )

    def _deadband(
        self, decl: ast.AlarmDecl, c: ast.Clause, when: TExpr, clear: TExpr | None
    ) -> tuple[float | None, TExpr | None]:
        if c.expr is None:  # the grammar always gives a deadband its expression
            return None, clear
        band = self.x.check(c.expr)
        if clear is not None:
            self.diag(
                "E054",
                f"The alarm {decl.name} has both a clear condition and a deadband.",
                c.span,
                "keep one: the deadband derives the clear condition",
            )
            return None, clear
        if when.op != "cmp" or when.value not in _CLEAR_OF:
            self.diag(
                "E055",
                f"A deadband needs a 'when' condition of the form `a > b` or `a < b`, but the "
                f"condition of alarm {decl.name} is '{when.text}'.",
                c.span,
                "write an explicit `clear when`",
            )
            return None, None
        if band.op != "const" or not isinstance(band.value, (int, float)) or isinstance(band.value, bool):
            self.diag(
                "E055", f"The deadband of alarm {decl.name} must be a constant, not '{band.text}'.", c.span
            )
            return None, None
        if band.value < 0:
            self.diag(
                "E055",
                f"The deadband of alarm {decl.name} must not be negative, but it is '{band.text}'.",
                c.span,
                "a deadband is the distance the value must move back past the limit before the alarm clears",
            )
            return None, None
        left, right = when.args
        target = left.unit or right.unit
        if band.unit is not None and target is not None:
            if not U.compatible(band.unit, target):
                self.diag(
                    "E031",
                    f"The deadband '{band.text}' is in '{band.unit}' but the condition compares "
                    f"values in '{target}'.",
                    c.span,
                )
                return None, None
            band = (
                self.x.scale(band, U.delta(band.unit), U.delta(target))
                if U.is_offset(target)
                else self.x.scale(band, band.unit, target)
            )
        width = float(band.value)
        op = str(when.value)
        sign = -1.0 if op in (">", ">=") else 1.0
        shifted = TExpr(
            "arith",
            (right, const(sign * width, Ty.NUM, target)),
            "+",
            Ty.NUM,
            target,
            right.may_miss,
            f"{right.text} {'-' if sign < 0 else '+'} {band.text}",
        )
        text = f"{left.text} {_CLEAR_OF[op]} {shifted.text}"
        return width, TExpr("cmp", (left, shifted), _CLEAR_OF[op], Ty.BOOL, None, when.may_miss, text)

    def _template(self, decl: ast.AlarmDecl, c: ast.Clause) -> Callable[[Mapping[str, Any]], str] | None:
        render, problems = check_template(c.text or "", self.lets)
        span = c.text_span or c.span
        text = c.text or ""
        # strings are single-line in a rules file; without escapes, template offsets are columns
        plain = span.line == span.end_line and span.end_column - span.column == len(text) + 2
        for p in problems:
            at = span
            if plain and p.at is not None:
                start, end = (span.column + 1 + i for i in p.at)
                at = Span(span.file, span.line, start, span.line, end)
            self.diag(p.code, p.message, at, p.hint)
        return render


def _dotted(key: str) -> str:
    parts = key.split("/")
    if len(parts) > 3 and parts[1] == "features":
        return ".".join([parts[2], *parts[4:]])
    return key


def _reads(node: CheckedNode) -> frozenset[str]:
    exprs = [node.expr]
    if node.alarm is not None:
        exprs += [e for e in (node.alarm.clear, node.alarm.suppress) if e is not None]
    keys: set[str] = set()
    for e in exprs:
        for sub in walk(e):
            if sub.op == "load":
                keys.add(str(sub.value))
            elif sub.op == "series":
                keys.add(str(sub.value[1]))
    return frozenset(keys)


def _operands(when: TExpr) -> tuple[TExpr, ...]:
    out: dict[str, TExpr] = {}

    def visit(e: TExpr) -> None:
        if e.op in ("and", "or", "not"):
            for a in e.args:
                visit(a)
        elif e.op == "cmp":
            for a in e.args:
                if a.op != "const":
                    out.setdefault(a.text, a)
        elif e.op != "const":
            out.setdefault(e.text, e)

    visit(when)
    return tuple(out.values())
