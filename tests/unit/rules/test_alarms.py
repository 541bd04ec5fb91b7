"""Table-driven tests of the pure ISA-18.2 alarm state machine: every transition of the model."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from centinela.rules.alarms import (
    Action,
    ActionKind,
    AlarmActionError,
    AlarmConfig,
    AlarmState,
    AlarmStatus,
    Cause,
    Evaluation,
    Leave,
    MissingMode,
    Tick,
    next_deadline,
    step,
)
from centinela.rules.alarms import replace as fast_replace

S = AlarmState
C = Cause
PLAIN = AlarmConfig()
DELAYED = AlarmConfig(on_delay=30.0, off_delay=10.0)
LATCH = AlarmConfig(latch=True)
CHATTER = AlarmConfig(chatter=(2, 60.0))

NORMAL = AlarmStatus()
UNACK = AlarmStatus(state=S.UNACK, active=True, raised=True, cleared=False, since=0.0)
ACKED = replace(UNACK, state=S.ACKED)
RTN = AlarmStatus(state=S.RTN_UNACK, raised=False, cleared=True, since=0.0)
UP = Evaluation(raised=True)
DOWN = Evaluation(raised=False)
MISSING = Evaluation(raised=None)


@dataclass(frozen=True)
class Row:
    name: str
    start: AlarmStatus
    event: Evaluation | Tick | Action | Leave
    now: float
    state: AlarmState
    causes: tuple[Cause, ...]
    config: AlarmConfig = field(default=PLAIN)


ROWS = [
    # condition-driven transitions of the four ISA-18.2 states
    Row("normal stays normal", NORMAL, DOWN, 5, S.NORMAL, ()),
    Row("normal raises to unack", NORMAL, UP, 5, S.UNACK, (C.RAISED,)),
    Row("unack clears to returned-unack", UNACK, DOWN, 5, S.RTN_UNACK, (C.CLEARED,)),
    Row("acked clears to normal", ACKED, DOWN, 5, S.NORMAL, (C.CLEARED,)),
    Row("returned-unack re-raises to unack", RTN, UP, 5, S.UNACK, (C.RAISED,)),
    Row("unack stays while raised", UNACK, UP, 5, S.UNACK, ()),
    # the thing leaves the alarm's class (its `where` became false)
    Row("unack returns to normal when the thing leaves", UNACK, Leave(), 5, S.NORMAL, (C.LEFT_CLASS,)),
    Row("returned-unack returns to normal when the thing leaves", RTN, Leave(), 5, S.NORMAL, (C.LEFT_CLASS,)),
    Row("normal stays normal when the thing leaves", NORMAL, Leave(), 5, S.NORMAL, ()),
    # operator acknowledgement
    Row("ack unack", UNACK, Action(ActionKind.ACK), 5, S.ACKED, (C.ACK,)),
    Row("ack returned-unack", RTN, Action(ActionKind.ACK), 5, S.NORMAL, (C.ACK,)),
    Row("ack acked is harmless", ACKED, Action(ActionKind.ACK), 5, S.ACKED, ()),
    Row("ack normal is harmless", NORMAL, Action(ActionKind.ACK), 5, S.NORMAL, ()),
    # on / off delays
    Row("raise waits for its on-delay", NORMAL, UP, 5, S.NORMAL, (), DELAYED),
    Row(
        "raise after on-delay at its own time",
        replace(NORMAL, raised=True, cleared=False, pending_since=0.0),
        Tick(),
        31,
        S.UNACK,
        (C.RAISED,),
        DELAYED,
    ),
    Row(
        "on-delay cancelled when the condition drops",
        replace(NORMAL, raised=True, cleared=False, pending_since=0.0),
        DOWN,
        20,
        S.NORMAL,
        (),
        DELAYED,
    ),
    Row("clear waits for its off-delay", UNACK, DOWN, 5, S.UNACK, (), DELAYED),
    Row(
        "clear after off-delay",
        replace(UNACK, raised=False, cleared=True, clearing_since=0.0),
        Tick(),
        10,
        S.RTN_UNACK,
        (C.CLEARED,),
        DELAYED,
    ),
    # hysteresis: an explicit clear condition
    Row("no clear inside the deadband", UNACK, Evaluation(False, cleared=False), 5, S.UNACK, ()),
    Row("clear below the deadband", UNACK, Evaluation(False, cleared=True), 5, S.RTN_UNACK, (C.CLEARED,)),
    # latch and reset
    Row("latched alarm stays active", UNACK, DOWN, 5, S.UNACK, (C.LATCHED,), LATCH),
    Row("latched acked stays active", ACKED, DOWN, 5, S.ACKED, (C.LATCHED,), LATCH),
    Row(
        "reset a latched alarm",
        replace(ACKED, active=False, latched=True),
        Action(ActionKind.RESET),
        5,
        S.NORMAL,
        (C.RESET,),
        LATCH,
    ),
    Row(
        "reset a latched unack alarm",
        replace(UNACK, active=False, latched=True),
        Action(ActionKind.RESET),
        5,
        S.NORMAL,
        (C.RESET,),
        LATCH,
    ),
    Row(
        "latched alarm raised again stays",
        replace(ACKED, active=False, latched=True),
        UP,
        5,
        S.ACKED,
        (),
        LATCH,
    ),
    Row(
        "latched alarm clearing again is not reported again",
        replace(UNACK, latched=True),
        DOWN,
        5,
        S.UNACK,
        (),
        LATCH,
    ),
    # shelving
    Row("shelve unack", UNACK, Action(ActionKind.SHELVE, until=100), 5, S.SHELVED, (C.SHELVE,)),
    Row("shelve normal", NORMAL, Action(ActionKind.SHELVE, until=100), 5, S.SHELVED, (C.SHELVE,)),
    Row(
        "shelved alarm does not annunciate",
        replace(NORMAL, state=S.SHELVED, shelved_until=100),
        UP,
        5,
        S.SHELVED,
        (),
    ),
    Row(
        "unshelve while active",
        replace(UNACK, state=S.SHELVED, shelved_until=100),
        Action(ActionKind.UNSHELVE),
        5,
        S.UNACK,
        (C.UNSHELVE,),
    ),
    Row(
        "unshelve while normal",
        replace(NORMAL, state=S.SHELVED, shelved_until=100),
        Action(ActionKind.UNSHELVE),
        5,
        S.NORMAL,
        (C.UNSHELVE,),
    ),
    Row(
        "shelve expires",
        replace(UNACK, state=S.SHELVED, shelved_until=100),
        Tick(),
        100,
        S.UNACK,
        (C.SHELVE_EXPIRED,),
    ),
    # suppression by a rule condition
    Row("suppress active alarm", UNACK, Evaluation(True, suppressed=True), 5, S.SUPPRESSED, (C.SUPPRESS,)),
    Row(
        "unsuppress active alarm",
        replace(UNACK, state=S.SUPPRESSED, suppressed=True),
        UP,
        5,
        S.UNACK,
        (C.UNSUPPRESS,),
    ),
    Row(
        "unsuppress normal alarm",
        replace(NORMAL, state=S.SUPPRESSED, suppressed=True),
        DOWN,
        5,
        S.NORMAL,
        (C.UNSUPPRESS,),
    ),
    Row(
        "suppressed alarm raises silently",
        NORMAL,
        Evaluation(True, suppressed=True),
        5,
        S.SUPPRESSED,
        (C.SUPPRESS,),
    ),
    # out of service
    Row(
        "remove from service",
        ACKED,
        Action(ActionKind.OUT_OF_SERVICE),
        5,
        S.OUT_OF_SERVICE,
        (C.OUT_OF_SERVICE,),
    ),
    Row(
        "out of service beats shelve",
        replace(UNACK, state=S.OUT_OF_SERVICE, out_of_service=True),
        Action(ActionKind.SHELVE, until=50),
        5,
        S.OUT_OF_SERVICE,
        (),
    ),
    Row(
        "return to service active",
        replace(UNACK, state=S.OUT_OF_SERVICE, out_of_service=True),
        Action(ActionKind.IN_SERVICE),
        5,
        S.UNACK,
        (C.IN_SERVICE,),
    ),
    Row(
        "return to service normal",
        replace(NORMAL, state=S.OUT_OF_SERVICE, out_of_service=True),
        Action(ActionKind.IN_SERVICE),
        5,
        S.NORMAL,
        (C.IN_SERVICE,),
    ),
    Row(
        "return to service while shelved",
        replace(NORMAL, state=S.OUT_OF_SERVICE, out_of_service=True, shelved_until=50),
        Action(ActionKind.IN_SERVICE),
        5,
        S.SHELVED,
        (C.IN_SERVICE,),
    ),
    # missing data policies
    Row("missing holds an active alarm", UNACK, MISSING, 5, S.UNACK, ()),
    Row("missing holds a normal alarm", NORMAL, MISSING, 5, S.NORMAL, ()),
    Row(
        "missing raises", NORMAL, MISSING, 5, S.UNACK, (C.RAISED,), AlarmConfig(on_missing=MissingMode.RAISE)
    ),
    Row(
        "missing clears",
        UNACK,
        MISSING,
        5,
        S.RTN_UNACK,
        (C.CLEARED,),
        AlarmConfig(on_missing=MissingMode.CLEAR),
    ),
    # chattering
    Row(
        "third activation in the window chatters",
        replace(RTN, activations=(0.0, 10.0)),
        UP,
        20,
        S.UNACK,
        (C.RAISED, C.CHATTERING),
        CHATTER,
    ),
    Row(
        "chattering ends when the window empties",
        replace(UNACK, chattering=True, activations=(0.0, 10.0, 20.0)),
        Tick(),
        60,
        S.UNACK,
        (C.CHATTER_END,),
        CHATTER,
    ),
]


@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
def test_transition_table(row: Row) -> None:
    status, transitions = step(row.start, row.config, row.event, row.now)
    assert status.state is row.state
    assert tuple(t.cause for t in transitions) == row.causes
    if transitions:
        assert transitions[0].previous is row.start.state
        assert transitions[-1].state is row.state


def test_every_state_and_cause_is_covered_by_the_table() -> None:
    reached = {r.state for r in ROWS} | {r.start.state for r in ROWS}
    assert reached == set(AlarmState)
    assert {c for r in ROWS for c in r.causes} == set(Cause)


def test_on_delay_transition_carries_deadline_time_not_step_time() -> None:
    status, _ = step(NORMAL, DELAYED, UP, 100.0)
    assert next_deadline(status, DELAYED) == 130.0
    status, transitions = step(status, DELAYED, DOWN, 175.0)  # data arrived late, condition now gone
    assert [(t.time, t.cause) for t in transitions] == [(130.0, C.RAISED)]
    assert status.state is S.UNACK
    assert status.clearing_since == 175.0


def test_late_step_equals_timely_ticks() -> None:
    timely, out1 = step(NORMAL, DELAYED, UP, 0.0)
    timely, more = step(timely, DELAYED, Tick(), 30.0)
    out1 += more
    timely, more = step(timely, DELAYED, DOWN, 50.0)
    out1 += more
    late, out2 = step(NORMAL, DELAYED, UP, 0.0)
    late, more = step(late, DELAYED, DOWN, 50.0)
    out2 += more
    assert out1 == out2
    assert timely == late


def test_invalid_operator_actions_are_refused() -> None:
    with pytest.raises(AlarmActionError, match="not latched"):
        step(UNACK, PLAIN, Action(ActionKind.RESET), 5.0)
    with pytest.raises(AlarmActionError, match="active again"):
        step(replace(UNACK, latched=True), LATCH, Action(ActionKind.RESET), 5.0)
    with pytest.raises(AlarmActionError, match="later time"):
        step(UNACK, PLAIN, Action(ActionKind.SHELVE, until=4.0), 5.0)


def test_status_round_trips_through_json() -> None:
    status = replace(UNACK, shelved_until=9.0, activations=(1.0, 2.0), chattering=True)
    assert AlarmStatus.from_json(status.to_json()) == status


def test_replace_copies_every_field_and_overrides_the_given_ones() -> None:
    full = AlarmStatus(
        AlarmState.ACKED, True, True, False, 1.0, 2.0, True, 3.0, True, True, True, (4.0, 5.0), 6.0
    )
    assert fast_replace(full) == full
    for name in AlarmStatus.__slots__:
        changed = fast_replace(full, **{name: "x"})
        assert getattr(changed, name) == "x"
        others = [n for n in AlarmStatus.__slots__ if n != name]
        assert [getattr(changed, n) for n in others] == [getattr(full, n) for n in others]


def _reference_step(status: AlarmStatus, config: AlarmConfig, event: Evaluation, now: float) -> Any:
    """`step` for an evaluation without its zero-delay shortcut: every deadline through `_advance`."""
    from centinela.rules.alarms import _advance, _settle, _track

    out: list[Any] = []
    s = _advance(status, config, now, out)
    s = _track(s, event, config, now)
    if event.suppressed != s.suppressed:
        cause = C.SUPPRESS if event.suppressed else C.UNSUPPRESS
        s = _settle(fast_replace(s, suppressed=event.suppressed), cause, now, out)
    return _advance(s, config, now, out), out


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([True, False, None]),
            st.sampled_from([True, False, None]),
            st.booleans(),
            st.sampled_from([0.0, 0.0, 5.0, 30.0]),
        ),
        min_size=1,
        max_size=25,
    ),
    st.sampled_from([PLAIN, DELAYED, LATCH, CHATTER, AlarmConfig(off_delay=10.0), AlarmConfig(on_delay=5.0)]),
)
def test_step_equals_the_general_deadline_search(
    events: list[tuple[bool | None, bool | None, bool, float]], config: AlarmConfig
) -> None:
    status = reference = NORMAL
    now = 0.0
    for raised, cleared, suppressed, gap in events:
        now += gap
        event = Evaluation(raised, cleared, suppressed)
        status, transitions = step(status, config, event, now)
        reference, expected = _reference_step(reference, config, event, now)
        assert (status, transitions) == (reference, expected)
