from __future__ import annotations

from typing import Any

import pytest

from centinela.errors import TwinError
from centinela.twin.rql import (
    MAX_DEPTH,
    And,
    Compare,
    Exists,
    Not,
    SortKey,
    check_condition,
    compile_filter,
    parse_filter,
    parse_options,
    parse_sort,
)

THING: dict[str, Any] = {
    "thingId": "acme:w1",
    "_namespace": "acme",
    "_revision": 7,
    "_modified": "2026-01-02T03:04:05.000000Z",
    "attributes": {"site": "North-7", "depth": 2500, "tags": ["oil", "gas"], "flag": True, "none": None},
    "features": {"p": {"properties": {"v": 12.5}}, "q": {"properties": {"v": 1}}},
}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('eq(attributes/site,"North-7")', True),
        ("eq(attributes/depth,2500)", True),
        ("eq(attributes/depth,2500.0)", True),
        ('eq(attributes/depth,"2500")', False),
        ("eq(attributes/flag,true)", True),
        ("eq(attributes/depth,true)", False),
        ("eq(attributes/none,null)", True),
        ("ne(attributes/depth,1)", True),
        ("ne(attributes/missing,1)", True),
        ("gt(attributes/depth,2000)", True),
        ("gt(attributes/depth,2500)", False),
        ("ge(attributes/depth,2500)", True),
        ("lt(features/p/properties/v,13)", True),
        ("le(features/p/properties/v,12.4)", False),
        ('gt(attributes/site,"M")', True),
        ("gt(attributes/site,1)", False),
        ("in(attributes/depth,1,2,2500)", True),
        ('in(attributes/site,"a","b")', False),
        ('like(attributes/site,"North*")', True),
        ('like(attributes/site,"north*")', False),
        ('ilike(attributes/site,"north-?")', True),
        ('like(attributes/site,"N.rth*")', False),
        ("exists(attributes/tags)", True),
        ("exists(attributes/nope)", False),
        ('eq(attributes/tags,"gas")', True),
        ('and(exists(thingId),gt(_revision,6),not(eq(_namespace,"other")))', True),
        ("or(eq(attributes/depth,1),eq(attributes/depth,2))", False),
        ("eq(features/*/properties/v,1)", True),
        ("gt(features/*/properties/v,100)", False),
        ("gt(_modified,2026-01-01T00:00:00Z)", True),
        ('eq(/attributes/site,"North-7")', True),
        ('eq(attributes/site,"with \\"quote\\"")', False),
        ("eq(attributes/site,'North-7')", True),
    ],
)
def test_filters(expression: str, expected: bool) -> None:
    assert compile_filter(expression)(THING) is expected


def test_parse_builds_the_tree() -> None:
    node = parse_filter('and(eq(attributes/a,1),not(exists(b)),in(c,"x",2))')
    assert node == And(
        (Compare("eq", ("attributes", "a"), 1), Not(Exists(("b",))), Compare("in", ("c",), ("x", 2)))
    )


@pytest.mark.parametrize(
    "expression",
    [
        "",
        "eq(a,1",
        "eq(a)",
        "foo(a,1)",
        "eq(a,unquoted)",
        'eq(a,"open)',
        "and()",
        "in(a)",
        "like(a,1)",
        "eq(a,1) trailing",
        "not(eq(a,1),eq(b,2))",
    ],
)
def test_invalid_filters_are_400_with_the_expression(expression: str) -> None:
    with pytest.raises(TwinError) as info:
        compile_filter(expression)
    assert (info.value.status, info.value.error) == (400, "rql.expression.invalid")
    assert f"<{expression}>" in info.value.message


@pytest.mark.parametrize("op", ["not", "and", "or"])
def test_deep_nesting_is_a_400_not_a_recursion_error(op: str) -> None:
    deep = f"{op}(" * 5000 + "exists(thingId)" + ")" * 5000
    for parse in (compile_filter, parse_filter):
        with pytest.raises(TwinError) as info:
            parse(deep)
        assert (info.value.status, info.value.error) == (400, "rql.expression.invalid")
        assert "deeper than" in info.value.message and len(info.value.message) < 400
    with pytest.raises(TwinError):
        check_condition(deep, THING, "acme:w1")


def test_nesting_up_to_the_limit_still_evaluates() -> None:
    depth = MAX_DEPTH
    expression = "not(" * depth + 'eq(thingId,"acme:w1")' + ")" * depth
    assert compile_filter(expression)(THING) is (depth % 2 == 0)
    wide = "or(" + ",".join(f"eq(_revision,{i})" for i in range(5000)) + ")"
    assert compile_filter(wide)({"_revision": 4999})


def test_condition_failure_is_412() -> None:
    check_condition("gt(_revision,1)", THING, "acme:w1")
    with pytest.raises(TwinError) as info:
        check_condition("gt(_revision,100)", THING, "acme:w1")
    assert (info.value.status, info.value.error) == (412, "things:condition.failed")


def test_options() -> None:
    assert parse_sort("sort(+attributes/a,-thingId,b)") == (
        SortKey(("attributes", "a"), True),
        SortKey(("thingId",), False),
        SortKey(("b",), True),
    )
    options = parse_options("size(10),sort(-_modified),cursor(abc_-)")
    assert (options.size, options.cursor, options.sort) == (10, "abc_-", (SortKey(("_modified",), False),))
    for bad in ["size(0)", "size(201)", "size(x)", "limit(0,10)", "frobnicate(1)", "sort()", "size(2) junk"]:
        with pytest.raises(TwinError) as info:
            parse_options(bad)
        assert info.value.status == 400, bad
