"""Property: `step`'s shortcut for plain evaluations gives what the general state machine gives."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from centinela.rules.alarms import (
    AlarmConfig,
    AlarmState,
    AlarmStatus,
    Evaluation,
    MissingMode,
    general_step,
    step,
)

statuses = st.builds(
    AlarmStatus,
    state=st.sampled_from(list(AlarmState)),
    active=st.booleans(),
    raised=st.none() | st.booleans(),
    cleared=st.none() | st.booleans(),
    pending_since=st.none() | st.just(5.0),
    clearing_since=st.none() | st.just(5.0),
    latched=st.booleans(),
    shelved_until=st.none() | st.just(500.0),
    suppressed=st.booleans(),
    out_of_service=st.booleans(),
    chattering=st.booleans(),
    since=st.none() | st.just(1.0),
)
configs = st.builds(
    AlarmConfig,
    on_delay=st.sampled_from([0.0, 3.0]),
    off_delay=st.sampled_from([0.0, 3.0]),
    latch=st.booleans(),
    on_missing=st.sampled_from(list(MissingMode)),
    chatter=st.none() | st.just((3, 60.0)),
)
evaluations = st.builds(
    Evaluation, raised=st.none() | st.booleans(), cleared=st.none() | st.booleans(), suppressed=st.booleans()
)


plain_statuses = st.builds(
    AlarmStatus,
    state=st.sampled_from(list(AlarmState)),
    active=st.booleans(),
    raised=st.none() | st.booleans(),
    cleared=st.none() | st.booleans(),
    since=st.none() | st.just(1.0),
)
plain_configs = st.builds(AlarmConfig, on_missing=st.sampled_from(list(MissingMode)))
plain_evaluations = st.builds(Evaluation, raised=st.booleans(), cleared=st.none() | st.booleans())


@given(statuses, configs, evaluations)
def test_step_equals_the_general_state_machine(
    status: AlarmStatus, config: AlarmConfig, ev: Evaluation
) -> None:
    assert step(status, config, ev, 10.0) == general_step(status, config, ev, 10.0, [])


@given(plain_statuses, plain_configs, plain_evaluations)
def test_plain_step_equals_the_general_state_machine(
    status: AlarmStatus, config: AlarmConfig, ev: Evaluation
) -> None:
    assert step(status, config, ev, 10.0) == general_step(status, config, ev, 10.0, [])


@given(st.lists(st.tuples(st.booleans(), st.none() | st.booleans()), min_size=1, max_size=30))
def test_plain_sequences_equal_the_general_state_machine(inputs: list[tuple[bool, bool | None]]) -> None:
    config = AlarmConfig()
    fast = slow = AlarmStatus()
    for n, (raised, cleared) in enumerate(inputs):
        ev = Evaluation(raised, cleared)
        fast, fast_out = step(fast, config, ev, float(n))
        slow, slow_out = general_step(slow, config, ev, float(n), [])
        assert (fast, fast_out) == (slow, slow_out)
