"""The compiled form of `.rules` files: what the compiler produces and the engine runs.

Contract between `centinela.dsl` (producer) and `centinela.rules` (consumer):

- `MISSING` is the value of a path a thing lacks and of any expression over it. Compiled code
  propagates it through arithmetic, comparisons and functions; `??` replaces it; `and`/`or` follow
  three-valued logic (`False and MISSING` is `False`, `True or MISSING` is `True`, otherwise MISSING).
- `EvalContext` and `Series` are implemented by the engine; compiled functions only read
  `ctx.values`, `ctx.now` and call `ctx.series(key)` methods, and write LET/COMPUTE/SERIES results
  into `ctx.values[node.key]`.
- `ctx.values` keys: input JSON pointers (`/features/pressure/properties/tubing`,
  `/attributes/limits/tubingPressure`, `/features/f/desiredProperties/p`), compute outputs under their
  pointer, lets under `let:<name>`, alarms under `alarm:<name>` (the raise condition), and
  `thing:id`, `thing:namespace`, `thing:name`.
- Severity: `critical > high > medium > low`; the language accepts `warning` as an alias of MEDIUM
  and `info` as an alias of LOW.
- `TwinClass.triggers[key]` evaluates, in order, every node depending (transitively) on `key` and
  returns `[(node_index, value)]`; a node whose evaluation raised yields `EvalError` as its value.
  The key `"*"` (ALL) evaluates every node (first load, tests); `"@time"` (TIME) evaluates the nodes
  whose value changes with time alone (windows, age, stale, integral) and their dependents (timers).
- Series: the engine appends each reading of an input path to the series keyed by its pointer
  (SeriesSpec.path set) BEFORE calling the trigger. Series with `path=None` are fed by the node whose
  key equals the series key (derived `expr:<n>` series, or computes/lets used in windows): the
  generated trigger itself calls `series.append(ctx.now, value)` right after evaluating that node, so
  later nodes of the same step see it. MISSING values are not appended.
- A key no rule reads has no trigger (`key in cls.triggers` is False). Triggers and node functions are
  generated and compiled on first use, then kept: loading many rules costs no Python compilation.
  Operands run left to right and the first MISSING one ends the evaluation of an operator or call,
  so `missing + 1/0` is MISSING, not an error.
- `TwinClass.source["module"]` is the generated Python source (for debugging and review).
- `Node.fn(ctx)` computes one node from `ctx.values` without writing anything; `AlarmSpec.clear`,
  `suppress` and `explain` read `ctx.values` the same way (evaluate them after the trigger ran).
- `TwinClass.fused[key]` (input keys only, generated on first use) is the whole step of one reading
  of `key` in one function `fused(hooks, ctx, value, time, out) -> bool` (see `FusedHooks`). It returns
  False, having changed nothing, unless the reading is the common case: not None and newer than the
  last reading of `key` (`ctx.seen`). Otherwise it fires the timers due before it (`hooks.catch_up`
  when `ctx.wake` is before the reading's time), takes the reading (`ctx.seen`, `ctx.now`,
  `ctx.values`, the path's series), runs the trigger's nodes inline,
  and then does what the engine does with the trigger's results: a computed value that differs from
  `ctx.written` is recorded there, in `out.changes[thing]` and `out.rows`; a plain alarm (no suppress
  condition) whose raise condition, and while active clear condition, equal the recorded ones is left
  alone; every other alarm goes to `hooks.alarm`. When a node failed or `ctx.health` holds anything,
  `hooks.finish` gets the trigger's results instead (errors in `errs`). It ends with `hooks.schedule`,
  or, when no series was read and no alarm went to `hooks.alarm`, by keeping `ctx.wake` (not due yet)
  as it is: the thing goes into `hooks.touched` and a wake missing from the heap to `hooks.push`.
- `TwinClass.ticks[key]` (input keys only) is `tick(hooks, ctx, out) -> None`: the nodes of the trigger
  of `key` evaluated at `ctx.now` on the current values, with the same effects as a fused ingest
  function (`hooks.finish` when a node failed or `ctx.health` holds anything) and no re-arming of
  timers (the engine's `_fire` schedules after it). The engine runs it when a window edge or
  staleness deadline of the series of `key` falls due.
- `TestSpec.thing_id` has the file's namespace prepended when the test names a bare thing name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Final, Protocol

from centinela.dsl.diagnostics import Span

__all__ = [
    "ALARM_FEATURE",
    "ALL",
    "MISSING",
    "TIME",
    "AlarmSpec",
    "EvalContext",
    "EvalError",
    "FusedHooks",
    "MissingPolicy",
    "Node",
    "NodeKind",
    "Operand",
    "Program",
    "Series",
    "SeriesSpec",
    "Severity",
    "TestSpec",
    "TestStep",
    "TestStepKind",
    "TwinClass",
]


class _Missing:
    """The type of `MISSING`: a single falsy sentinel that prints as `missing`."""

    __slots__ = ()
    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = object.__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __str__(self) -> str:
        return "missing"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()
ALL: Final = "*"  # trigger key that evaluates every node of a class
ALARM_FEATURE: Final = "/features/alarms/properties/"  # + rule name: the alarm's state on the thing
TIME: Final = "@time"  # trigger key for timers: nodes that change with time alone, and their dependents


class Series(Protocol):
    """History of one series for one thing (implemented by the engine); MISSING when undefined."""

    def avg(self, now: float, seconds: float) -> Any: ...
    def min(self, now: float, seconds: float) -> Any: ...
    def max(self, now: float, seconds: float) -> Any: ...
    def sum(self, now: float, seconds: float) -> Any: ...
    def count(self, now: float, seconds: float) -> Any: ...
    def stddev(self, now: float, seconds: float) -> Any: ...
    def median(self, now: float, seconds: float) -> Any: ...
    def percentile(self, now: float, seconds: float, p: float) -> Any: ...
    def delta(self, now: float, seconds: float) -> Any: ...
    def rate(self, now: float, seconds: float) -> Any: ...
    def integral(self, now: float, seconds: float | None) -> Any: ...
    def previous(self) -> Any: ...
    def changed(self) -> Any: ...
    def age(self, now: float) -> Any: ...
    def stale(self, now: float, seconds: float) -> Any: ...
    def rising(self) -> Any: ...
    def falling(self) -> Any: ...
    def count_true(self, now: float, seconds: float) -> Any: ...
    def duration_true(self, now: float, seconds: float) -> Any: ...
    def append(self, now: float, value: Any) -> None: ...


class EvalContext(Protocol):
    """One thing's current values, the evaluation time and its series (implemented by the engine)."""

    values: dict[str, Any]
    now: float

    def series(self, key: str) -> Series: ...


class FusedHooks(Protocol):
    """What a fused ingest function calls back into the engine for (the general code)."""

    def finish(self, ctx: Any, results: list[tuple[int, Any]], errs: dict[int, Any] | None, out: Any) -> None:
        """Handle a trigger's results `[(node_index, value)]` (`errs[i]` for failed nodes), then schedule."""

    def alarm(self, ctx: Any, index: int, value: Any, out: Any) -> None:
        """Evaluate the alarm node `index` whose raise condition is `value` (the state machine, effects)."""

    def schedule(self, ctx: Any) -> None:
        """Re-arm the context's timers after a step."""

    def catch_up(self, ctx: Any, now: float, out: Any) -> None:
        """Fire the context's timers due before `now`, each at its own time (before a reading at `now`)."""

    def replace(self, status: Any, **changes: Any) -> Any:
        """A copy of an alarm status with `changes` (`centinela.rules.alarms.replace`)."""

    def conditions(self, status: Any, raised: Any, cleared: Any) -> Any:
        """A copy of an alarm status with new raise and clear conditions (`alarms.with_conditions`)."""

    def push(self, ctx: Any, when: float) -> None:
        """Put the context's unchanged next wake `when` back into the timer heap."""

    @property
    def touched(self) -> set[str]:
        """The engine's set of things changed since its last checkpoint."""


@dataclass(frozen=True, slots=True)
class EvalError:
    """A node whose evaluation raised: the rule's health, not a crash of its group."""

    node: str
    error: str


@dataclass(frozen=True, slots=True)
class Operand:
    """One evaluated operand of an alarm condition, for explanations (`pressure.tubing = 3104.2 psi`)."""

    text: str
    value: Any
    unit: str | None


@dataclass(frozen=True, slots=True)
class SeriesSpec:
    """A history the engine keeps per thing: a path's readings or a derived expression's values."""

    key: str
    path: str | None
    horizon: float


class NodeKind(Enum):
    LET = "let"
    COMPUTE = "compute"
    SERIES = "series"
    ALARM = "alarm"


class Severity(Enum):
    """Alarm priority; compare with `rank` (critical highest)."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        return {"critical": 4, "high": 3, "medium": 2, "low": 1}[self.value]


class MissingPolicy(Enum):
    """What a MISSING alarm condition does: raise, clear, or hold the current state (default)."""

    RAISE = "raise"
    CLEAR = "clear"
    HOLD = "hold"


@dataclass(frozen=True, slots=True)
class AlarmSpec:
    """The static part of an alarm rule; the engine owns its state machine."""

    severity: Severity
    on_delay: float
    clear: Callable[[EvalContext], Any] | None
    off_delay: float
    latch: bool
    suppress: Callable[[EvalContext], Any] | None
    on_missing: MissingPolicy
    message: Callable[[Mapping[str, Any]], str] | None
    explain: Callable[[EvalContext], tuple[Operand, ...]]
    chatter: tuple[int, float] | None
    deadband: float | None = None


@dataclass(frozen=True, slots=True)
class Node:
    """One let / compute / derived series / alarm of a twin class."""

    kind: NodeKind
    name: str
    key: str
    reads: frozenset[str]
    fn: Callable[[EvalContext], Any]
    unit: str | None
    span: Span
    version: str
    alarm: AlarmSpec | None = None


@dataclass(frozen=True, slots=True)
class TwinClass:
    """The rules of one twin class, compiled: nodes in dependency order and fused triggers."""

    name: str
    definition: str | None
    id_glob: str | None
    where: Callable[[EvalContext], Any] | None
    nodes: tuple[Node, ...]
    series: tuple[SeriesSpec, ...]
    inputs: frozenset[str]
    triggers: Mapping[str, Callable[[EvalContext], list[tuple[int, Any]]]]
    timed: tuple[int, ...]
    source: Mapping[str, str] = field(default_factory=dict)  # trigger key -> generated Python source
    fused: Mapping[str, Callable[..., bool]] = field(default_factory=dict)  # input key -> fused ingest
    where_reads: frozenset[str] = frozenset()  # the keys `where` reads (empty: treat every input as read)
    ticks: Mapping[str, Callable[..., None]] = field(default_factory=dict)  # input key -> fused timer


class TestStepKind(Enum):
    SET = "set"  # set input `path` to `value`
    EXPECT_ALARM = "expect_alarm"  # alarm `name` is in `state`
    EXPECT_VALUE = "expect_value"  # computed `path` == `value` (± `tolerance`)
    ACK = "ack"  # operator acknowledges alarm `name`
    SHELVE = "shelve"  # operator shelves alarm `name` for `duration` seconds
    UNSHELVE = "unshelve"


@dataclass(frozen=True, slots=True)
class TestStep:
    """One step of a rule test, at `at` seconds after the test starts."""

    at: float
    kind: TestStepKind
    path: str | None = None  # JSON pointer for SET / EXPECT_VALUE
    name: str | None = None  # alarm name for EXPECT_ALARM / ACK / SHELVE
    value: Any = None  # value to set, or expected value
    state: str | None = None  # normal | active | acked | rtn_unack | shelved | suppressed
    tolerance: float = 0.0
    duration: float | None = None
    span: Span | None = None


@dataclass(frozen=True, slots=True)
class TestSpec:
    """A `test` block: checked by the DSL, run by the engine."""

    __test__ = False  # not a pytest class

    name: str
    twin_class: str
    thing_id: str
    attributes: Mapping[str, Any]
    span: Span
    steps: tuple[TestStep, ...]
    definition: str | None = None


@dataclass(frozen=True, slots=True)
class Program:
    """Every twin class and test of a set of `.rules` files."""

    namespace: str | None
    classes: Mapping[str, TwinClass]
    tests: tuple[TestSpec, ...]
    files: tuple[str, ...]
