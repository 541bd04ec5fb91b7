"""RQL: the compiled filters agree with a plain tree-walking reference over generated things."""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from centinela.twin.rql import compile_filter

PATHS = ["attributes/a", "attributes/b", "attributes/c/d", "features/f/properties/x", "thingId"]
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-5, 5)
    | st.floats(-5, 5, allow_nan=False)
    | st.sampled_from(["", "a", "ab", "b*", "A", "x?y"])
)
values = scalars | st.lists(scalars, max_size=3)


@st.composite
def things(draw: st.DrawFn) -> dict[str, Any]:
    thing: dict[str, Any] = {"thingId": draw(st.sampled_from(["n:a", "n:b", "m:c"]))}
    for path in PATHS[:-1]:
        if draw(st.booleans()):
            node = thing
            *parents, last = path.split("/")
            for key in parents:
                node = node.setdefault(key, {})
            node[last] = draw(values)
    return thing


def literal(value: Any) -> str:
    return json.dumps(value)


leaf = st.one_of(
    st.tuples(st.sampled_from(["eq", "ne", "gt", "ge", "lt", "le"]), st.sampled_from(PATHS), scalars),
    st.tuples(st.just("in"), st.sampled_from(PATHS), st.lists(scalars, min_size=1, max_size=3)),
    st.tuples(
        st.sampled_from(["like", "ilike"]),
        st.sampled_from(PATHS),
        st.sampled_from(["a*", "*b", "?", "A*", "*"]),
    ),
    st.tuples(st.just("exists"), st.sampled_from(PATHS), st.none()),
)
trees = st.recursive(
    leaf,
    lambda inner: (
        st.tuples(st.sampled_from(["and", "or"]), st.lists(inner, min_size=1, max_size=3))
        | st.tuples(st.just("not"), inner)
    ),
    max_leaves=6,
)


def render(tree: Any) -> str:
    op = tree[0]
    if op in ("and", "or"):
        return f"{op}({','.join(render(t) for t in tree[1])})"
    if op == "not":
        return f"not({render(tree[1])})"
    _, path, value = tree
    if op == "exists":
        return f"exists({path})"
    if op == "in":
        return f"in({path},{','.join(literal(v) for v in value)})"
    return f"{op}({path},{literal(value)})"


MISSING = object()


def lookup(thing: Any, path: str) -> Any:
    node = thing
    for key in path.split("/"):
        if not isinstance(node, dict) or key not in node:
            return MISSING
        node = node[key]
    return node


def kind(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int | float):
        return "number"
    return type(v).__name__


def scalar_matches(op: str, actual: Any, wanted: Any) -> bool:
    if op == "eq":
        return kind(actual) == kind(wanted) and actual == wanted
    if op in ("like", "ilike"):
        if not isinstance(actual, str):
            return False
        regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in wanted)
        return re.fullmatch(regex, actual, re.IGNORECASE if op == "ilike" else 0) is not None
    if kind(actual) != kind(wanted) or kind(actual) not in ("number", "str"):
        return False
    return {"gt": actual > wanted, "ge": actual >= wanted, "lt": actual < wanted, "le": actual <= wanted}[op]


def reference(tree: Any, thing: dict[str, Any]) -> bool:
    op = tree[0]
    if op == "and":
        return all(reference(t, thing) for t in tree[1])
    if op == "or":
        return any(reference(t, thing) for t in tree[1])
    if op == "not":
        return not reference(tree[1], thing)
    _, path, wanted = tree
    actual = lookup(thing, path)
    if op == "exists":
        return actual is not MISSING
    if op == "ne":
        return not reference(("eq", path, wanted), thing)
    if actual is MISSING:
        return False
    candidates = actual if isinstance(actual, list) else [actual]
    if op == "in":
        return any(scalar_matches("eq", c, w) for c in candidates for w in wanted)
    return any(scalar_matches(op, c, wanted) for c in candidates)


@settings(max_examples=300, deadline=None)
@given(trees, st.lists(things(), min_size=1, max_size=4))
def test_compiled_filters_agree_with_the_reference(tree: Any, sample: list[dict[str, Any]]) -> None:
    predicate = compile_filter(render(tree))
    for thing in sample:
        assert predicate(thing) is reference(tree, thing), (render(tree), thing)
