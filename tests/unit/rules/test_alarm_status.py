"""`with_conditions`: the positional copy of an alarm status that plain evaluations and fused code use."""

from __future__ import annotations

import itertools

from centinela.rules.alarms import AlarmState, AlarmStatus, replace, with_conditions

STATUSES = [
    AlarmStatus(),
    AlarmStatus(AlarmState.UNACK, active=True, raised=True, cleared=False, since=3.0),
    AlarmStatus(AlarmState.RTN_UNACK, raised=False, cleared=True, since=7.5, activations=(1.0, 2.0)),
    AlarmStatus(AlarmState.ACKED, True, True, None, 1.0, 2.0, True, 9.0, True, True, True, (4.0,), 5.0),
]


def test_with_conditions_equals_replace_of_the_same_fields() -> None:
    for status, raised, cleared in itertools.product(STATUSES, (True, False, None), (True, False, None)):
        assert with_conditions(status, raised, cleared) == replace(status, raised=raised, cleared=cleared)
        for active, state in itertools.product((True, False), AlarmState):
            got = with_conditions(status, raised, cleared, active, state, 42.0)
            want = replace(status, raised=raised, cleared=cleared, active=active, state=state, since=42.0)
            assert got == want
        got = with_conditions(status, raised, cleared, not status.active)
        assert got == replace(status, raised=raised, cleared=cleared, active=not status.active)
        assert got.since == status.since  # the state did not change, nor does the time it was entered
