"""RQL as Ditto speaks it: filters (eq ne gt ge lt le in like ilike exists and or not), sort, size, cursor."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from centinela.twin.errors import condition_failed, invalid_rql, invalid_search_option
from centinela.twin.pointer import MISSING, Pointer, find_all, parse_pointer

__all__ = [
    "MAX_DEPTH",
    "And",
    "Compare",
    "Exists",
    "Node",
    "Not",
    "Or",
    "Predicate",
    "SearchOptions",
    "SortKey",
    "check_condition",
    "compile_filter",
    "compile_node",
    "parse_filter",
    "parse_options",
    "parse_sort",
    "referenced",
]

JSON = Any
Predicate = Callable[[dict[str, JSON]], bool]

_COMPARISONS = ("eq", "ne", "gt", "ge", "lt", "le", "like", "ilike")


@dataclass(frozen=True, slots=True)
class Compare:
    """`op(path,value)`; for `in`, `value` is the tuple of candidates."""

    op: str
    path: Pointer
    value: JSON


@dataclass(frozen=True, slots=True)
class Exists:
    path: Pointer


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    child: Node


Node = Compare | Exists | And | Or | Not


@dataclass(frozen=True, slots=True)
class SortKey:
    path: Pointer
    ascending: bool = True


@dataclass(frozen=True, slots=True)
class SearchOptions:
    """The parsed `option` parameter: `sort(...)`, `size(n)`, `cursor(...)`."""

    sort: tuple[SortKey, ...] = ()
    size: int | None = None
    cursor: str | None = None


# --------------------------------------------------------------------------- parsing

_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?")
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")


MAX_DEPTH = 64
"""How deeply `and`/`or`/`not` may nest in a filter (deeper ones are refused with 400)."""


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.depth = 0

    def fail(self, reason: str) -> Exception:
        return invalid_rql(self.text, f"{reason} at position {self.pos}")

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def expect(self, char: str) -> None:
        if self.peek() != char:
            found = repr(self.peek()) if self.peek() else "the end"
            msg = f"'{char}' expected, found {found}"
            raise self.fail(msg)
        self.pos += 1

    def word(self) -> str:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in "(),\"'":
            self.pos += 1
        return self.text[start : self.pos].strip()

    def query(self) -> Node:
        name = self.word()
        if not name:
            msg = "an operator expected"
            raise self.fail(msg)
        self.expect("(")
        if name in ("and", "or", "not"):
            self.depth += 1
            if self.depth > MAX_DEPTH:
                msg = f"the logical operators nest deeper than {MAX_DEPTH} levels"
                raise self.fail(msg)
            node = self._logical(name)
            self.depth -= 1
            return node
        return self._comparison(name)

    def _logical(self, name: str) -> Node:
        if name in ("and", "or"):
            children = [self.query()]
            while self.peek() == ",":
                self.pos += 1
                children.append(self.query())
            self.expect(")")
            return And(tuple(children)) if name == "and" else Or(tuple(children))
        child = self.query()
        self.expect(")")
        return Not(child)

    def _comparison(self, name: str) -> Node:
        path = self.path()
        if name == "exists":
            self.expect(")")
            return Exists(path)
        if name == "in":
            values = []
            while self.peek() == ",":
                self.pos += 1
                values.append(self.value())
            if not values:
                msg = "'in' needs at least one value"
                raise self.fail(msg)
            self.expect(")")
            return Compare("in", path, tuple(values))
        if name not in _COMPARISONS:
            raise invalid_rql(self.text, f"the operator '{name}' is unknown")
        self.expect(",")
        value = self.value()
        self.expect(")")
        if name in ("like", "ilike") and not isinstance(value, str):
            raise invalid_rql(self.text, f"'{name}' needs a string pattern, not {value!r}")
        return Compare(name, path, value)

    def path(self) -> Pointer:
        text = self.word()
        if not text:
            msg = "a property path expected"
            raise self.fail(msg)
        return parse_pointer(text)

    def value(self) -> JSON:
        char = self.peek()
        if char in ("'", '"'):
            return self.string(char)
        lexeme = self.word()
        if lexeme == "true":
            return True
        if lexeme == "false":
            return False
        if lexeme == "null":
            return None
        if _NUMBER.fullmatch(lexeme):
            number = float(lexeme)
            return int(lexeme) if number.is_integer() and re.fullmatch(r"-?\d+", lexeme) else number
        if _TIMESTAMP.fullmatch(lexeme):
            # Ditto's documentation writes timestamps unquoted: gt(_modified,2021-08-10T15:10:02.592Z).
            return lexeme
        if not lexeme:
            msg = "a value expected"
            raise self.fail(msg)
        raise invalid_rql(self.text, f"the value '{lexeme}' is not a quoted string, number, boolean or null")

    def string(self, quote: str) -> str:
        self.pos += 1
        out = []
        while True:
            char = self.peek()
            if not char:
                msg = "a string is not closed"
                raise self.fail(msg)
            self.pos += 1
            if char == "\\":
                escaped = self.peek()
                if not escaped:
                    msg = "a string is not closed"
                    raise self.fail(msg)
                out.append(escaped)
                self.pos += 1
            elif char == quote:
                return "".join(out)
            else:
                out.append(char)


def parse_filter(text: str) -> Node:
    """Parse an RQL filter; raise `TwinError` 400 `rql.expression.invalid` with the position."""
    parser = _Parser(text)
    node = parser.query()
    if parser.pos != len(text.rstrip()):
        msg = "unexpected text after the expression"
        raise parser.fail(msg)
    return node


def parse_sort(text: str) -> tuple[SortKey, ...]:
    """Parse `sort(+attributes/x,-_modified)` (a missing sign means ascending)."""
    match = re.fullmatch(r"\s*sort\((.*)\)\s*", text)
    if match is None or not match[1].strip():
        raise invalid_search_option(text, "expected sort(+path,-path,...)")
    keys = []
    for item in match[1].split(","):
        item = item.strip()
        ascending = not item.startswith("-")
        path = item.lstrip("+- ")
        if not path:
            raise invalid_search_option(text, f"the sort key '{item}' has no path")
        keys.append(SortKey(parse_pointer(path), ascending))
    return tuple(keys)


def parse_options(text: str) -> SearchOptions:
    """Parse Ditto's `option` parameter: `sort(+thingId),size(25),cursor(...)` in any order."""
    sort: tuple[SortKey, ...] = ()
    size: int | None = None
    cursor: str | None = None
    for match in re.finditer(r"\s*(\w+)\(([^()]*)\)\s*(,|$)", text):
        name, arg = match[1], match[2]
        if name == "sort":
            sort = parse_sort(f"sort({arg})")
        elif name == "size":
            if not arg.strip().isdigit() or not 1 <= int(arg) <= 200:
                raise invalid_search_option(text, f"size must be an integer from 1 to 200, not '{arg}'")
            size = int(arg)
        elif name == "cursor":
            cursor = arg.strip()
        elif name == "limit":
            raise invalid_search_option(text, "limit(offset,count) is not supported; use size and cursor")
        else:
            raise invalid_search_option(text, f"the option '{name}' is unknown")
    consumed = "".join(m[0] for m in re.finditer(r"\s*(\w+)\(([^()]*)\)\s*(,|$)", text))
    if consumed.replace(" ", "") != text.replace(" ", ""):
        raise invalid_search_option(text, "expected options such as sort(+thingId),size(25),cursor(...)")
    return SearchOptions(sort, size, cursor)


# --------------------------------------------------------------------------- evaluation


def _number(value: JSON) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


_NUMBER_TYPES = (int, float)


def _getter(path: Pointer) -> Callable[[JSON], JSON]:
    """A fast `get_at` for one fixed path (only objects are traversed; lists and strings stop it)."""

    def get(node: JSON) -> JSON:
        try:
            for key in path:
                node = node[key]
        except (KeyError, TypeError):
            return MISSING
        return node

    return get


def _like(pattern: str, flags: int) -> Callable[[JSON], bool]:
    regex = re.compile(
        "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern), flags | re.DOTALL
    )
    return lambda v: isinstance(v, str) and regex.fullmatch(v) is not None


def _scalar_test(op: str, value: JSON) -> Callable[[JSON], bool]:
    if op == "eq":
        if isinstance(value, bool):
            return lambda v: v is value
        return lambda v: not isinstance(v, bool) and v == value
    if op == "in":
        tests = [_scalar_test("eq", v) for v in value]
        return lambda v: any(t(v) for t in tests)
    if op == "like":
        return _like(value, 0)
    if op == "ilike":
        return _like(value, re.IGNORECASE)
    fn: Callable[[Any, Any], bool] = {
        "gt": operator.gt,
        "ge": operator.ge,
        "lt": operator.lt,
        "le": operator.le,
    }[op]
    if _number(value):
        # Numbers compare with numbers only (a boolean is not one), strings with strings.
        return lambda v: type(v) in _NUMBER_TYPES and fn(v, value)
    if isinstance(value, str):
        return lambda v: type(v) is str and fn(v, value)
    return lambda v: False


def _compile(node: Node) -> Predicate:
    if isinstance(node, And):
        parts = [_compile(c) for c in node.children]
        return lambda t: all(p(t) for p in parts)
    if isinstance(node, Or):
        parts = [_compile(c) for c in node.children]
        return lambda t: any(p(t) for p in parts)
    if isinstance(node, Not):
        inner = _compile(node.child)
        return lambda t: not inner(t)
    path = node.path
    if isinstance(node, Exists):
        return lambda t: bool(find_all(t, path))
    if node.op == "ne":
        equal = _compile(Compare("eq", path, node.value))
        return lambda t: not equal(t)
    test = _scalar_test(node.op, node.value)
    against_list = isinstance(node.value, list)

    def matches(found: JSON) -> bool:
        # A list matches when one of its items does (as Ditto's search treats arrays).
        if type(found) is list and not against_list:
            return any(test(item) for item in found)
        return test(found)

    if "*" in path:
        return lambda t: any(matches(found) for _, found in find_all(t, path))
    get = _getter(path)

    def predicate(thing: dict[str, JSON]) -> bool:
        found = get(thing)
        return found is not MISSING and matches(found)

    return predicate


def referenced(node: Node) -> set[str]:
    """The top-level members a filter reads (`attributes`, `_revision`, ...)."""
    if isinstance(node, And | Or):
        return set().union(*(referenced(c) for c in node.children))
    if isinstance(node, Not):
        return referenced(node.child)
    return {node.path[0]} if node.path else set()


def compile_filter(text: str) -> Predicate:
    """A predicate over a thing view (a dict with `thingId`, `_revision`, ...) for an RQL filter."""
    return _compile(parse_filter(text))


def compile_node(node: Node) -> Predicate:
    """The predicate of a parsed filter."""
    return _compile(node)


def check_condition(condition: str, thing: dict[str, JSON], thing_id: str) -> None:
    """Raise 412 `things:condition.failed` unless the thing matches the RQL `condition`."""
    if not compile_filter(condition)(thing):
        raise condition_failed(thing_id, condition)
