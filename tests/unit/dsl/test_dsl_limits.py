"""Hostile or oversized input: deep nesting, crafted pointers and identifiers, unbounded message templates."""

from __future__ import annotations

import gc

import pytest
from dsl_memory_context import MemoryContext
from jinja2.exceptions import SecurityError

from centinela.dsl import check_source, compile_source
from centinela.dsl.checks_expr import MAX_NESTING
from centinela.dsl.gcpause import gc_paused
from centinela.dsl.program import ALL

HEAD = 'twins T = things "x:*"\n'
X = "/features/a/properties/b"


def run_all(source: str, values: dict[str, object]) -> dict[str, object]:
    out: dict[str, object] = {}
    for cls in compile_source(source).classes.values():
        ctx = MemoryContext(dict(values))
        out |= {cls.nodes[i].name: v for i, v in cls.triggers[ALL](ctx)}
    return out


@pytest.mark.parametrize(
    "build",
    [
        lambda n: "if a.b > 1 then a.b else " * n + "0",
        lambda n: " + ".join(["a.b"] * (n + 1)),
        lambda n: "abs(" * n + "a.b" + ")" * n,
        lambda n: "max(a.b, " * n + "a.b" + ")" * n,
        lambda n: " ?? ".join(["a.b"] * (n + 1)),
        lambda n: " and ".join(["a.b > 1"] * (n + 1)),
        lambda n: "-" * n + "a.b",
    ],
)
def test_nesting_up_to_the_limit_runs_and_beyond_it_is_a_diagnostic(build) -> None:
    # the deepest expressions the checker accepts must also be valid generated Python
    n = MAX_NESTING
    while check_source(HEAD + f"compute T o.x = {build(n)}\n").errors:
        n -= 1
    assert n >= MAX_NESTING // 3
    out = run_all(HEAD + f"compute T o.x = {build(n)}\n", {X: 2.0})
    assert not any(type(v).__name__ == "EvalError" for v in out.values()), out
    for deeper in (n + 1, 3 * MAX_NESTING, 600):
        codes = {d.code for d in check_source(HEAD + f"compute T o.x = {build(deeper)}\n").errors}
        assert codes == {"E025"}, (deeper, codes)


def test_a_declaration_too_deep_to_parse_is_reported_where_it_starts_and_others_still_checked() -> None:
    source = HEAD + "let T.ok = 1\ncompute T o.x = " + " + ".join(["a.b"] * 4000) + "\nlet T.z = nope\n"
    diags = check_source(source).diagnostics
    assert [(d.code, d.span.line, d.span.column) for d in diags] == [("E025", 3, 1), ("E013", 4, 11)]


@pytest.mark.parametrize(
    "pointer",
    [
        "/features/a'\"b/properties/c\\')",
        "/features/a'''+__import__('os')+'''/properties/c",
        "/features/a\\\\/properties/c\\",
        "/features/a\u2028b/properties/c",
        "/features/a~1b/properties/c~0",
        "/features/a\rimport os\r/properties/c",
    ],
)
def test_crafted_json_pointers_are_data(pointer: str) -> None:
    source = HEAD + f"compute T o.x = `{pointer}` + 1\n"
    cls = compile_source(source).classes["T"]
    (key,) = cls.inputs
    assert key.replace("~1", "/").replace("~0", "~") in (
        pointer,
        pointer.replace("~1", "/").replace("~0", "~"),
    )
    out = run_all(source, {key: 2.0})
    assert out["o.x"] == 3.0


def test_python_words_as_rule_names_are_only_names() -> None:
    source = (
        'twins None = things "x:*"\n'
        "let None.lambda = 1\nlet None.M = 2\nlet None.ctx = 3\nlet None.import = 4\n"
        "compute None lambda.None = lambda + M + ctx + import\n"
        "alarm None ctx when lambda.None > 9\n"
    )
    out = run_all(source, {})
    assert out["lambda.None"] == 10.0
    assert out["ctx"] is True


def message_of(template: str):
    escaped = template.replace('"', '\\"')
    source = HEAD + f'alarm T A when a.b > 1 message "{escaped}"\n'
    node = compile_source(source).classes["T"].nodes[-1]
    assert node.alarm is not None and node.alarm.message is not None
    return node.alarm.message


@pytest.mark.parametrize(
    "template",
    ["{{ 'a' * 100000000 }}", "{{ [1] * 100000000 }}", "{{ 10 ** (10 ** 8) }}", "{{ 2.0 ** 2000 }}"],
)
def test_message_templates_cannot_build_huge_values(template: str) -> None:
    with pytest.raises(SecurityError):
        message_of(template)({"value": 1.0})


def test_message_templates_still_multiply_and_repeat_a_little() -> None:
    render = message_of("{{ '-' * 3 }} {{ value * 2 }} {{ 2 ** 10 }} {{ 1.5 ** 2 }}")
    assert render({"value": 1.5}) == "--- 3.0 1024 2.25"


@pytest.mark.parametrize(
    "template",
    ["{% include 'x' %}", "{% import 'x' as y %}", "{% from 'x' import y %}", "{% extends 'x' %}"],
)
def test_message_templates_cannot_load_other_templates(template: str) -> None:
    escaped = template.replace('"', '\\"')
    diags = check_source(HEAD + f'alarm T A when a.b > 1 message "{escaped}"\n').errors
    assert [d.code for d in diags] == ["E060"]
    assert diags[0].span.line == 2


def test_the_garbage_collector_is_restored_after_the_pipeline() -> None:
    source = HEAD + "let T.x = 1 +\n"
    assert gc.isenabled()
    check_source(source)
    compile_source(HEAD + "let T.x = 1\n")
    assert gc.isenabled()
    gc.disable()
    try:
        check_source(source)
        assert not gc.isenabled()  # a caller that turned it off keeps it off
    finally:
        gc.enable()
    with pytest.raises(ZeroDivisionError), gc_paused():
        assert not gc.isenabled()
        _ = 1 / 0
    assert gc.isenabled()
