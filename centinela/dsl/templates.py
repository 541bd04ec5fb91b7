"""Alarm message templates: Jinja2 in a SandboxedEnvironment, compiled and checked at check time."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from typing import Any

from jinja2 import TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError
from jinja2.meta import find_undeclared_variables
from jinja2.sandbox import SandboxedEnvironment

__all__ = ["TEMPLATE_NAMES", "TemplateProblem", "check_template", "locate"]

# Names every message template may use besides the twin class's lets.
TEMPLATE_NAMES = ("value", "thing", "alarm", "severity", "explanation", "operands", "now", "state")


class TemplateProblem:
    """One problem in a template: `code`, message, `line` inside the template (1-based), optional hint.

    `at` holds the (start, end) offsets of the offending name in the template text, when it can be told.
    """

    __slots__ = ("at", "code", "hint", "line", "message")

    def __init__(
        self, code: str, message: str, line: int, hint: str | None = None, at: tuple[int, int] | None = None
    ) -> None:
        self.code, self.message, self.line, self.hint, self.at = code, message, line, hint, at


_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)


def locate(text: str, name: str) -> tuple[int, int] | None:
    """Offsets of the first whole-word `name` inside a `{{ }}` or `{% %}` tag of `text`, if any."""
    word = re.compile(rf"(?<![\w]){re.escape(name)}(?![\w])")
    for tag in _TAG.finditer(text):
        found = word.search(text, tag.start(), tag.end())
        if found:
            return found.span()
    return None


# Longest string or list a message template may build with `*` (and `**` stays below 1e300), so a
# message cannot exhaust the engine's memory or time (the sandbox limits `range` the same way).
MAX_REPEAT = 10_000


class _MessageEnvironment(SandboxedEnvironment):
    """The sandbox, with `*` and `**` bounded (Jinja2's sandbox leaves them open)."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            base, exp = abs(float(left)), abs(float(right))
            if base not in (0.0, 1.0) and (exp > 1024 or exp * math.log10(max(base, 1e-300)) > 300):
                msg = f"The power {left} ** {right} is too large for a message."
                raise SecurityError(msg)
        elif isinstance(left, (str, list, tuple)) or isinstance(right, (str, list, tuple)):
            seq, times = (left, right) if isinstance(left, (str, list, tuple)) else (right, left)
            if isinstance(times, int) and len(seq) * times > MAX_REPEAT:
                msg = f"Repeating a {type(seq).__name__} {times} times is too long for a message."
                raise SecurityError(msg)
        return super().call_binop(context, operator, left, right)


@lru_cache(maxsize=1)
def _env() -> SandboxedEnvironment:
    return _MessageEnvironment(autoescape=False, keep_trailing_newline=False)


_LOADING = {
    nodes.Include: "include",
    nodes.Import: "import",
    nodes.FromImport: "from",
    nodes.Extends: "extends",
}


def _unsafe_attributes(tree: nodes.Node) -> Iterable[tuple[str, int]]:
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        if isinstance(node, nodes.Getattr):
            name = node.attr
        elif (
            isinstance(node, nodes.Getitem)
            and isinstance(node.arg, nodes.Const)
            and isinstance(node.arg.value, str)
        ):
            name = node.arg.value
        else:
            continue
        if name.startswith("_"):
            yield name, node.lineno


def check_template(
    text: str, known: Iterable[str]
) -> tuple[Callable[[Mapping[str, Any]], str] | None, list[TemplateProblem]]:
    """Compile `text` in the sandbox and return its render function, or the problems found.

    Problems: syntax errors and unknown filters (E060), unknown names (E061), private attributes (E062).
    """
    env = _env()
    try:
        tree = env.parse(text)
    except TemplateSyntaxError as exc:
        return None, [
            TemplateProblem(
                "E060", f"The message template has a syntax error: {exc.message}.", exc.lineno or 1
            )
        ]
    problems = [
        TemplateProblem(
            "E060",
            f"The message template uses '{{% {_LOADING[type(node)]} %}}'; a message cannot load "
            "other templates.",
            node.lineno,
            "write the whole message in the one template",
        )
        for node in tree.find_all(tuple(_LOADING))
    ]
    for name, line in _unsafe_attributes(tree):
        problems.append(
            TemplateProblem(
                "E062",
                f"The message template reads the private attribute '{name}', which the sandbox forbids.",
                line,
                "use only the values in scope: " + ", ".join(TEMPLATE_NAMES),
                locate(text, name),
            )
        )
    allowed = set(known) | set(TEMPLATE_NAMES)
    try:
        undeclared = find_undeclared_variables(tree)
    except TemplateSyntaxError as exc:  # unknown filter or test
        return None, [
            TemplateProblem(
                "E060",
                f"The message template cannot be compiled: {exc.message}",
                exc.lineno or 1,
                "filters: " + ", ".join(sorted(env.filters)[:30]),
            )
        ]
    for name in sorted(undeclared - allowed):
        import difflib  # noqa: PLC0415 - only on the error path

        near = difflib.get_close_matches(name, sorted(allowed), n=1)
        line = next((n.lineno for n in tree.find_all(nodes.Name) if n.name == name), 1)
        problems.append(
            TemplateProblem(
                "E061",
                f"The message template uses '{name}', which is not defined.",
                line,
                (f"did you mean '{near[0]}'? " if near else "") + "in scope: " + ", ".join(sorted(allowed)),
                locate(text, name),
            )
        )
    if problems:
        return None, problems
    try:
        template = env.from_string(tree)
    except TemplateSyntaxError as exc:  # unknown filter or test
        return None, [
            TemplateProblem(
                "E060", f"The message template cannot be compiled: {exc.message}.", exc.lineno or 1
            )
        ]

    def render(values: Mapping[str, Any]) -> str:
        return template.render(values)

    return render, []
