"""Checks of a set of parsed files: declarations, twin classes, dependency cycles and rule tests."""

from __future__ import annotations

import difflib
from typing import Protocol, TypeVar

from centinela.dsl import ast
from centinela.dsl.checked import CheckedClass, CheckedNode, CheckedProgram
from centinela.dsl.checks_class import ClassChecker, ClassDecls
from centinela.dsl.checks_tests import check_test
from centinela.dsl.diagnostics import Diagnostic, Span
from centinela.dsl.paths import PathError, is_safe_name, resolve_path

__all__ = ["check_modules", "topological"]


_Named = TypeVar("_Named", ast.LetDecl, ast.AlarmDecl)


class DiagFn(Protocol):
    def __call__(self, code: str, message: str, span: Span, hint: str | None = None) -> None: ...


def check_modules(modules: list[ast.Module], diagnostics: list[Diagnostic]) -> CheckedProgram:
    """Check every declaration of `modules` together, appending every problem to `diagnostics`."""
    out = diagnostics

    def diag(code: str, message: str, span: Span, hint: str | None = None) -> None:
        out.append(Diagnostic(code, message, span, hint))

    namespaces: dict[str, tuple[str, Span]] = {}  # file -> namespace (default for its thing ids)
    classes: dict[str, ClassDecls] = {}
    rules: list[ast.Decl] = []
    tests: list[ast.TestDecl] = []
    for module in modules:
        for decl in module.decls:
            if isinstance(decl, ast.NamespaceDecl):
                first = namespaces.get(module.file)
                if first is not None:
                    diag(
                        "E017",
                        f"The file declares a second namespace '{decl.name}'; '{first[0]}' is declared at "
                        f"{first[1]}.",
                        decl.span,
                        "declare one namespace per file, before its rules",
                    )
                else:
                    namespaces[module.file] = (decl.name, decl.span)
            elif isinstance(decl, ast.TwinsDecl):
                if decl.name in classes:
                    diag(
                        "E011",
                        f"The twin class {decl.name} is declared twice.",
                        decl.span,
                        f"the first declaration is at {classes[decl.name].twins.span}",
                    )
                elif not is_safe_name(decl.name):
                    diag(
                        "E018",
                        f"The name '{decl.name}' is not allowed: names starting with '__' are reserved.",
                        decl.span,
                    )
                else:
                    classes[decl.name] = ClassDecls(decl)
            elif isinstance(decl, ast.TestDecl):
                tests.append(decl)
            else:
                rules.append(decl)
    for decl in rules:
        _gather(decl, classes, diag)
    checked: dict[str, CheckedClass] = {}
    for name, decls in classes.items():
        cls = ClassChecker(decls, out).run()
        cls.nodes = topological(cls.nodes, out)
        checked[name] = cls
    specs = []
    for t in tests:
        if t.twin_class not in classes:
            _unknown_class(t.twin_class, t.class_span, classes, diag)
            continue
        ns = namespaces.get(t.span.file)
        spec = check_test(t, checked[t.twin_class], classes[t.twin_class], ns[0] if ns else None, out)
        if spec is not None:
            specs.append(spec)
    distinct = {ns for ns, _ in namespaces.values()}
    namespace = distinct.pop() if len(distinct) == 1 else None
    return CheckedProgram(namespace, checked, specs, tuple(m.file for m in modules))


def _unknown_class(name: str, span: Span, classes: dict[str, ClassDecls], diag: DiagFn) -> None:
    near = difflib.get_close_matches(name, list(classes), n=1)
    hint = (
        f"did you mean '{near[0]}'?"
        if near
        else (
            'declare it with `twins Name = definition "..."`'
            if not classes
            else f"twin classes: {', '.join(classes)}"
        )
    )
    diag("E010", f"The twin class {name} is not declared.", span, hint)


def _gather(decl: ast.Decl, classes: dict[str, ClassDecls], diag: DiagFn) -> None:
    cls_name = getattr(decl, "twin_class", "")
    span = decl.span
    if cls_name not in classes:
        _unknown_class(cls_name, span, classes, diag)
        return
    d = classes[cls_name]
    if isinstance(decl, ast.UnitsDecl):
        d.units.extend(decl.entries)
    elif isinstance(decl, ast.LetDecl):
        _add_named(d.lets, "let", cls_name, decl, decl.span, diag)
    elif isinstance(decl, ast.ComputeDecl):
        try:
            r = resolve_path(decl.path, frozenset())
        except PathError as exc:
            diag(exc.code, str(exc), decl.path.span, exc.hint)
            return
        if r.kind != "input":
            diag(
                "E042",
                f"The compute output '{decl.path.text}' must be a feature property, not "
                f"{'an attribute' if r.kind == 'attribute' else 'a ' + r.kind + ' value'}.",
                decl.path.span,
                "write the output as feature.property, e.g. production.liquidRate",
            )
        elif r.key in d.computes:
            diag(
                "E012",
                f"The output {decl.path.text} of {cls_name} is computed twice.",
                decl.path.span,
                f"the first compute is at {d.computes[r.key].span}",
            )
        else:
            d.computes[r.key] = decl
    elif isinstance(decl, ast.AlarmDecl):
        _add_named(d.alarms, "alarm", cls_name, decl, decl.name_span, diag)


def _add_named(
    table: dict[str, _Named], kind: str, cls_name: str, decl: _Named, span: Span, diag: DiagFn
) -> None:
    """Register a let or alarm under its name: E018 for a reserved name, E012 for a second one."""
    if not is_safe_name(decl.name):
        diag("E018", f"The name '{decl.name}' is not allowed: names starting with '__' are reserved.", span)
    elif decl.name in table:
        diag(
            "E012",
            f"The {kind} {cls_name}.{decl.name} is declared twice.",
            span,
            f"the first declaration is at {table[decl.name].span}",
        )
    else:
        table[decl.name] = decl


def topological(nodes: list[CheckedNode], out: list[Diagnostic]) -> list[CheckedNode]:
    """Nodes ordered so each comes after what it reads (stable by declaration); cycles are E040."""
    by_key = {n.key: n for n in nodes}
    deps = {
        n.key: sorted((k for k in n.reads if k in by_key and k != n.key), key=lambda k: by_key[k].order)
        for n in nodes
    }
    state: dict[str, int] = {}
    ordered: list[CheckedNode] = []
    reported: set[frozenset[str]] = set()
    for n in nodes:
        if n.key in n.reads:
            out.append(
                Diagnostic(
                    "E040",
                    f"The {n.kind.value} {n.name} depends on itself.",
                    n.span,
                    "a value cannot be computed from its own current value; use previous(x)",
                )
            )

    def visit(key: str, stack: list[str]) -> None:
        state[key] = 1
        stack.append(key)
        for dep in deps[key]:
            if state.get(dep) == 1:
                cycle = stack[stack.index(dep) :] + [dep]
                if frozenset(cycle) not in reported:
                    reported.add(frozenset(cycle))
                    names = " -> ".join(by_key[k].name for k in cycle)
                    first = by_key[dep]
                    out.append(
                        Diagnostic(
                            "E040",
                            f"The rules form a dependency cycle: {names}.",
                            first.span,
                            "break the cycle, e.g. with previous(x)",
                        )
                    )
            elif state.get(dep) is None:
                visit(dep, stack)
        stack.pop()
        state[key] = 2
        ordered.append(by_key[key])

    for n in sorted(nodes, key=lambda n: n.order):
        if n.key not in state:
            visit(n.key, [])
    return ordered
