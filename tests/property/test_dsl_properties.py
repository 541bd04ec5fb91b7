"""Properties: compiled expressions agree with the reference evaluator; the parser never raises."""

from __future__ import annotations

import math
import sys
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "unit" / "dsl"))

from dsl_memory_context import MemoryContext  # noqa: E402
from reference_eval import evaluate  # noqa: E402

from centinela.dsl import compile_source  # noqa: E402
from centinela.dsl.ast import ComputeDecl  # noqa: E402
from centinela.dsl.parser import parse  # noqa: E402
from centinela.dsl.pipeline import check_source  # noqa: E402
from centinela.dsl.program import ALL, MISSING, EvalError  # noqa: E402

INPUTS = ("x.a", "x.b", "x.c")
consts = st.sampled_from(["0", "1", "2", "3.5", "0.25", "10", "-4"])
num_leaf = st.one_of(consts, st.sampled_from(INPUTS))


def _num(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    binop = st.tuples(children, st.sampled_from(["+", "-", "*", "/", "%", "**"]), children).map(
        lambda t: f"({t[0]} {t[1]} {t[2]})"
    )
    neg = children.map(lambda c: f"(-{c})")
    coalesce = st.tuples(children, children).map(lambda t: f"({t[0]} ?? {t[1]})")
    fn1 = st.tuples(st.sampled_from(["abs", "floor", "ceil", "round"]), children).map(
        lambda t: f"{t[0]}({t[1]})"
    )
    fn2 = st.tuples(st.sampled_from(["min", "max"]), children, children).map(
        lambda t: f"{t[0]}({t[1]}, {t[2]})"
    )
    round2 = st.tuples(children, st.sampled_from(["0", "1", "2", "x.c"])).map(
        lambda t: f"round({t[0]}, {t[1]})"
    )
    clamp = st.tuples(children, children, children).map(lambda t: f"clamp({t[0]}, {t[1]}, {t[2]})")
    cond = _bool_of(children)
    if_ = st.tuples(cond, children, children).map(lambda t: f"(if {t[0]} then {t[1]} else {t[2]})")
    return st.one_of(binop, neg, coalesce, fn1, fn2, round2, clamp, if_)


def _bool_of(nums: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    cmp = st.tuples(nums, st.sampled_from(["<", "<=", ">", ">=", "==", "!="]), nums).map(
        lambda t: f"({t[0]} {t[1]} {t[2]})"
    )
    member = st.tuples(nums, st.lists(num_leaf, min_size=1, max_size=3), st.booleans()).map(
        lambda t: f"({t[0]} {'not in' if t[2] else 'in'} [{', '.join(t[1])}])"
    )
    return st.one_of(cmp, member)


numbers = st.recursive(num_leaf, _num, max_leaves=8)
bools = st.recursive(
    _bool_of(numbers),
    lambda ch: st.one_of(
        st.tuples(ch, st.sampled_from(["and", "or"]), ch).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        ch.map(lambda c: f"(not {c})"),
    ),
    max_leaves=4,
)
values = st.fixed_dictionaries(
    {name: st.one_of(st.none(), st.sampled_from([0.0, 1.0, -2.0, 3.5, 0.5, 7.0])) for name in INPUTS}
)


def _run(expr: str, inputs: dict[str, float | None]) -> tuple[object, object]:
    source = f'twins T = things "x:*"\ncompute T o.r = {expr}\n'
    program = compile_source(source)
    cls = program.classes["T"]
    ctx_values = {f"/features/x/properties/{k[2:]}": v for k, v in inputs.items() if v is not None}
    ((_, compiled),) = cls.triggers[ALL](MemoryContext(ctx_values))
    decl = parse(source).module.decls[1]
    assert isinstance(decl, ComputeDecl)
    try:
        expected = evaluate(decl.expr, dict(ctx_values))
    except (ArithmeticError, ValueError) as exc:
        expected = type(exc).__name__
    if isinstance(expected, float) and not math.isfinite(expected):
        expected = "ValueError"  # a computed value must be finite to be written back as JSON
    if isinstance(compiled, EvalError):
        compiled = compiled.error.split(":")[0]
    return compiled, expected


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expr=st.one_of(numbers, bools), inputs=values)
def test_compiled_equals_reference(expr: str, inputs: dict[str, float | None]) -> None:
    compiled, expected = _run(expr, inputs)
    if expected is MISSING:
        assert compiled is MISSING
    elif isinstance(expected, float) and math.isnan(expected):
        assert isinstance(compiled, float) and math.isnan(compiled)
    else:
        assert compiled == expected
        assert type(compiled) is type(expected)


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=200))
def test_parser_and_checker_never_raise_on_random_text(text: str) -> None:
    result = check_source(text, "random.rules")
    for d in result.diagnostics:
        assert d.code and d.message and d.span.line >= 1 and d.span.column >= 1


tokens = st.sampled_from(
    ["twins", "T", "=", "things", '"x:*"', "let", "T.a", "compute", "alarm", "when", "for", "30s", "5 psi",
     "(", ")", "{", "}", "x.a", "+", "*", ">", "and", "??", "if", "then", "else", "in", "[", "]", ",",
     "avg", "units", ":", "psi", "message", '"{{ value }}"', "test", "at", "set", "expect", "\n", "`/a/b`"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(words=st.lists(tokens, max_size=40))
def test_parser_never_raises_on_token_soup(words: list[str]) -> None:
    text = " ".join(words)
    parse(text, "soup.rules")
    check_source(text, "soup.rules")
