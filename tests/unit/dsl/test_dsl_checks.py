"""Checks: every diagnostic collected, units folded or rejected, cycles named, templates, safety."""

from __future__ import annotations

import pytest

from centinela.dsl import check_source, compile_source
from centinela.dsl.program import NodeKind
from centinela.errors import RulesError

HEAD = 'twins W = definition "a:*"\nunits W { p.a, p.b : psi  f.q : bbl/d  f.g : Mscf/d  t.x : degF }\n'


def codes(src: str) -> list[str]:
    return [d.code for d in check_source(HEAD + src).diagnostics]


def test_all_errors_of_a_file_are_reported_not_only_the_first() -> None:
    found = codes("let W.a = p.a + f.q\nlet W.b = nosuch(1)\nalarm W X severity huge when p.a > zz\n")
    assert found == ["E031", "E014", "E052", "E013"]


def test_compile_raises_rules_error_with_every_diagnostic() -> None:
    with pytest.raises(RulesError) as info:
        compile_source(HEAD + "let W.a = p.a + f.q\nlet W.b = nosuch(1)\n", "w.rules")
    assert [d.code for d in info.value.diagnostics] == ["E031", "E014"]
    assert "w.rules:3:11" in str(info.value)


@pytest.mark.parametrize(
    ("expr", "unit", "ok"),
    [
        ("p.a + 100 psi", "psi", True),
        ("p.a + 1 bar", "psi", True),
        ("p.a + f.q", None, False),
        ("f.g / f.q", "scf/bbl", True),
        ("p.a > 5 bbl/min", None, False),
        ("rate(f.q, 1m) * 60 s", "bbl/d", True),
        ("t.x - 32 degF", "delta_degF", True),
        ("t.x + 5 delta_degF", "degF", True),
        ("sqrt(p.a * p.b)", "psi", True),
        ("exp(p.a / p.b)", None, True),
        ("exp(p.a)", None, False),
    ],
)
def test_units_are_checked_and_folded(expr: str, unit: str | None, ok: bool) -> None:
    src = HEAD + f"compute W o.r{' : ' + unit if unit else ''} = {expr}\n"
    result = check_source(src)
    assert (not result.errors) is ok, [d.message for d in result.errors]


def test_unit_factor_is_applied_at_compile_time() -> None:
    cls = compile_source(HEAD + "compute W o.r : psi = p.a + 1 bar\ncompute W o.s : bbl/min = f.q\n").classes[
        "W"
    ]
    source = cls.source["module"]
    assert "14.50377" in source  # 1 bar in psi, folded
    ctx_values = {"/features/p/properties/a": 10.0, "/features/f/properties/q": 1440.0}

    class Ctx:
        values = dict(ctx_values)
        now = 0.0

        def series(self, key: str) -> None:
            raise AssertionError(key)

    out = dict(cls.triggers["*"](Ctx()))
    by = {n.name: i for i, n in enumerate(cls.nodes)}
    assert out[by["o.r"]] == pytest.approx(10 + 14.5037738)
    assert out[by["o.s"]] == pytest.approx(1.0)


def test_cycles_name_every_member() -> None:
    result = check_source(HEAD + "compute W o.a = o.b\ncompute W o.b = o.c + 1\ncompute W o.c = o.a * 2\n")
    (diag,) = result.errors
    assert diag.code == "E040" and "o.a -> o.b -> o.c -> o.a" in diag.message


def test_previous_of_itself_is_not_a_cycle_but_itself_is() -> None:
    assert codes("compute W o.a = o.a + 1\n") == ["E040"]


def test_dependencies_through_lets_and_alarms() -> None:
    cls = compile_source(
        HEAD + "alarm W A when o.a > lim\nlet W.lim = o.a * 2\ncompute W o.a = p.a\n"
    ).classes["W"]
    assert [n.kind for n in cls.nodes] == [NodeKind.COMPUTE, NodeKind.LET, NodeKind.ALARM]
    assert cls.nodes[2].reads == frozenset({"/features/o/properties/a", "let:lim"})


def test_template_problems_are_positioned_in_the_rules_file() -> None:
    src = HEAD + 'let W.lim = 1\nalarm W A when p.a > 1\n    message "{{ value }}\\n{{ lmi }}"\n'
    (diag,) = check_source(src, "t.rules").errors
    assert diag.code == "E061" and "'lmi'" in diag.message and diag.hint and "did you mean 'lim'" in diag.hint
    assert (diag.span.line, diag.span.column) == (5, 13)  # with an escape: the whole template string


def test_template_names_are_pointed_at_inside_the_string() -> None:
    line = '    message "lmi is {{ value }} (limit {{ lmi }})"'
    src = HEAD + f"let W.lim = 1\nalarm W A when p.a > 1\n{line}\n"
    (diag,) = check_source(src, "t.rules").errors
    assert diag.code == "E061"
    start = line.index("{{ lmi") + 4  # the name inside the tag, not the same word in plain text
    assert (diag.span.line, diag.span.column, diag.span.end_column) == (5, start, start + 3)


@pytest.mark.parametrize(
    "template",
    [
        "{{ ''.__class__ }}",
        "{{ thing.__init__ }}",
        "{{ value['__class__'] }}",
        "{{ cycler.__init__.__globals__ }}",
    ],
)
def test_template_escapes_are_rejected(template: str) -> None:
    found = codes(f'alarm W A when p.a > 1 message "{template}"\n')
    assert "E062" in found or "E061" in found


@pytest.mark.parametrize(
    "expr",
    ["__import__('os')", "eval(1)", "p.__class__", "open(1)", "getattr(p, 1)", "globals()", "`/x`"],
)
def test_language_cannot_reach_python(expr: str) -> None:
    result = check_source(HEAD + f"let W.a = {expr}\n")
    assert result.errors, expr


def test_string_literals_are_emitted_with_repr() -> None:
    tricky = "x' + __import__('os').system('echo pwned') + '"
    cls = compile_source(HEAD + f'compute W o.s = if p.a > 1 then "{tricky}" else "y"\n').classes["W"]
    out = dict(
        cls.triggers["*"].__call__(
            type("C", (), {"values": {"/features/p/properties/a": 2.0}, "now": 0.0, "series": None})()
        )
    )
    assert list(out.values()) == [tricky]


def test_severity_aliases_and_defaults() -> None:
    cls = compile_source(HEAD + "alarm W A severity warning when p.a > 1\nalarm W B when p.a > 2\n").classes[
        "W"
    ]
    sev = {n.name: n.alarm.severity.value for n in cls.nodes if n.alarm}
    assert sev == {"A": "medium", "B": "medium"}


def test_min_max_with_a_window_are_window_functions() -> None:
    cls = compile_source(HEAD + "compute W o.a : psi = max(p.a, 5m)\ncompute W o.b : psi = max(p.a, p.b)\n")
    source = cls.classes["W"].source["module"]
    assert ".max(now, 300.0)" in source and "_f" in source


def test_test_blocks_become_specs_with_converted_values() -> None:
    src = (
        HEAD
        + """
    compute W o.sum : psi = p.a + p.b
    alarm W A when p.a > 100 psi
    test "t" for W {
        thing "w1"
        attributes { "limit": 3 }
        at 0s set p.a = 1 bar, p.b = 2
              expect A normal
        at 1m expect o.sum == 16.5 within 0.1
              ack A
              shelve A for 1h
    }
    """
    )
    program = compile_source("namespace org.acme\n" + src)
    (spec,) = program.tests
    assert spec.thing_id == "org.acme:w1" and spec.attributes == {"limit": 3}
    kinds = [(s.at, s.kind.value) for s in spec.steps]
    assert kinds == [
        (0, "set"),
        (0, "set"),
        (0, "expect_alarm"),
        (60, "expect_value"),
        (60, "ack"),
        (60, "shelve"),
    ]
    assert spec.steps[0].value == pytest.approx(14.5037738)
    assert spec.steps[3].tolerance == 0.1 and spec.steps[5].duration == 3600
