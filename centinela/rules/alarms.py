"""The ISA-18.2 alarm state machine: a pure `step(status, config, event, now) -> (status, transitions)`.

Model (ISA-18.2 / IEC 62682, figure "alarm state transition diagram"):

* The *condition* is debounced first: the raise condition must hold for `on_delay` seconds to make the
  alarm active, and the clear condition (the negated raise condition, or an explicit clear / deadband
  condition giving hysteresis) must hold for `off_delay` seconds to make it inactive again.
* The *alarm state* combines activity and acknowledgement: NORMAL, UNACK (active, unacknowledged),
  ACKED (active, acknowledged) and RTN_UNACK (returned to normal, unacknowledged).
* Three states take an alarm out of annunciation: OUT_OF_SERVICE (operator) over SHELVED (operator,
  with an expiry) over SUPPRESSED (a rule condition). The condition is still tracked underneath; on
  leaving them the alarm is UNACK when its condition is active and NORMAL otherwise.
* A latched alarm whose condition returns stays UNACK/ACKED with `latched` set (reported once) until
  an operator `reset`, allowed while the condition is inactive, returns it to NORMAL (and acknowledges).
* Chattering: more than N activations within a window marks the alarm chattering (reported as a
  transition with cause CHATTERING); it ends when the window holds N or fewer again.

Time is passed in; nothing here reads a clock. Deadlines that fall between two steps (the end of an
on-delay, a shelve expiry) take effect at their own time, so a step applied late gives the same
transitions, with the same times, as timers firing on time.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from centinela.errors import CentinelaError

__all__ = [
    "Action",
    "ActionKind",
    "AlarmActionError",
    "AlarmConfig",
    "AlarmState",
    "AlarmStatus",
    "Cause",
    "Evaluation",
    "Leave",
    "MissingMode",
    "Tick",
    "Transition",
    "evaluation",
    "general_step",
    "next_deadline",
    "settled",
    "step",
    "with_conditions",
]


class AlarmState(Enum):
    NORMAL = "normal"
    UNACK = "active-unacknowledged"
    ACKED = "active-acknowledged"
    RTN_UNACK = "returned-unacknowledged"
    SHELVED = "shelved"
    SUPPRESSED = "suppressed"
    OUT_OF_SERVICE = "out-of-service"


class Cause(Enum):
    RAISED = "raised"
    CLEARED = "cleared"
    LATCHED = "latched"
    ACK = "ack"
    RESET = "reset"
    SHELVE = "shelve"
    UNSHELVE = "unshelve"
    SHELVE_EXPIRED = "shelve-expired"
    SUPPRESS = "suppress"
    UNSUPPRESS = "unsuppress"
    OUT_OF_SERVICE = "out-of-service"
    IN_SERVICE = "in-service"
    CHATTERING = "chattering"
    CHATTER_END = "chatter-end"
    LEFT_CLASS = "left-class"  # the thing's `where` became false: the engine returns its alarms to normal


class MissingMode(Enum):
    """What a missing raise condition means: raise the alarm, clear it, or hold (neither)."""

    RAISE = "raise"
    CLEAR = "clear"
    HOLD = "hold"


class ActionKind(Enum):
    ACK = "ack"
    SHELVE = "shelve"
    UNSHELVE = "unshelve"
    OUT_OF_SERVICE = "out-of-service"
    IN_SERVICE = "in-service"
    RESET = "reset"


class AlarmActionError(CentinelaError):
    """An operator action that does not apply to the alarm in its present state."""


@dataclass(frozen=True, slots=True)
class AlarmConfig:
    on_delay: float = 0.0
    off_delay: float = 0.0
    latch: bool = False
    on_missing: MissingMode = MissingMode.HOLD
    chatter: tuple[int, float] | None = None


@dataclass(frozen=True, slots=True)
class Evaluation:
    """One evaluation of the rule's conditions.

    `raised` is None when missing; `cleared` is None without an explicit clear condition ("not raised").
    """

    raised: bool | None
    cleared: bool | None = None
    suppressed: bool = False


@dataclass(frozen=True, slots=True)
class Tick:
    """Time passes without new data (a timer fired)."""


@dataclass(frozen=True, slots=True)
class Leave:
    """The thing left the alarm's class (its `where` became false): the alarm returns to normal."""


@dataclass(frozen=True, slots=True)
class Action:
    kind: ActionKind
    until: float | None = None
    user: str = ""


@dataclass(frozen=True, slots=True)
class AlarmStatus:
    state: AlarmState = AlarmState.NORMAL
    active: bool = False
    raised: bool | None = None
    cleared: bool | None = None
    pending_since: float | None = None
    clearing_since: float | None = None
    latched: bool = False
    shelved_until: float | None = None
    suppressed: bool = False
    out_of_service: bool = False
    chattering: bool = False
    activations: tuple[float, ...] = ()
    since: float | None = None

    def to_json(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in self.__slots__}
        data["state"] = self.state.value
        data["activations"] = list(self.activations)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AlarmStatus:
        values = dict(data)
        values["state"] = AlarmState(values["state"])
        values["activations"] = tuple(values.get("activations", ()))
        return cls(**values)


@dataclass(frozen=True, slots=True)
class Transition:
    time: float
    previous: AlarmState
    state: AlarmState
    cause: Cause
    active: bool
    latched: bool
    chattering: bool


Event = Evaluation | Tick | Action | Leave

_new = object.__new__
_T_SET = {name: Transition.__dict__[name].__set__ for name in Transition.__slots__}
_t_time, _t_previous, _t_state, _t_cause = (_T_SET[n] for n in ("time", "previous", "state", "cause"))
_t_active, _t_latched, _t_chattering = (_T_SET[n] for n in ("active", "latched", "chattering"))
_E_SET = {name: Evaluation.__dict__[name].__set__ for name in Evaluation.__slots__}
_e_raised, _e_cleared, _e_suppressed = (_E_SET[n] for n in ("raised", "cleared", "suppressed"))


def _tr(
    time: float,
    previous: AlarmState,
    state: AlarmState,
    cause: Cause,
    active: bool,
    latched: bool,
    chattering: bool,
) -> Transition:
    """`Transition(...)` filled through the slots' own setters (a frozen `__init__` is slower)."""
    n = _new(Transition)
    _t_time(n, time)
    _t_previous(n, previous)
    _t_state(n, state)
    _t_cause(n, cause)
    _t_active(n, active)
    _t_latched(n, latched)
    _t_chattering(n, chattering)
    return n


def settled(status: AlarmStatus, raised: bool | None, cleared: bool | None, suppressed: bool) -> bool:
    """True when an evaluation cannot change the alarm.

    That is the same raise and suppression inputs and, while active, the same clear input (an
    unknown clear matters only where it differs from raised).
    """
    return (
        raised is status.raised
        and suppressed == status.suppressed
        and (
            not status.active
            or cleared == status.cleared
            or (cleared is None and status.cleared is not raised)
        )
    )


def evaluation(raised: bool | None, cleared: bool | None, suppressed: bool) -> Evaluation:
    """`Evaluation(raised, cleared, suppressed)`, filled through the slots' own setters."""
    n = _new(Evaluation)
    _e_raised(n, raised)
    _e_cleared(n, cleared)
    _e_suppressed(n, suppressed)
    return n

# The slots' own setters: a frozen instance is filled once, here, without `object.__setattr__`'s lookup.
_SETTERS = {name: AlarmStatus.__dict__[name].__set__ for name in AlarmStatus.__slots__}
_state, _active, _raised, _cleared = (_SETTERS[n] for n in ("state", "active", "raised", "cleared"))
_pending, _clearing, _latched = (_SETTERS[n] for n in ("pending_since", "clearing_since", "latched"))
_shelved, _suppressed, _oos = (_SETTERS[n] for n in ("shelved_until", "suppressed", "out_of_service"))
_chattering, _activations, _since = (_SETTERS[n] for n in ("chattering", "activations", "since"))


def replace(s: AlarmStatus, **c: Any) -> AlarmStatus:
    """`dataclasses.replace` for `AlarmStatus`, without its per-call field introspection."""
    n = _new(AlarmStatus)
    _state(n, c["state"] if "state" in c else s.state)
    _active(n, c["active"] if "active" in c else s.active)
    _raised(n, c["raised"] if "raised" in c else s.raised)
    _cleared(n, c["cleared"] if "cleared" in c else s.cleared)
    _pending(n, c["pending_since"] if "pending_since" in c else s.pending_since)
    _clearing(n, c["clearing_since"] if "clearing_since" in c else s.clearing_since)
    _latched(n, c["latched"] if "latched" in c else s.latched)
    _shelved(n, c["shelved_until"] if "shelved_until" in c else s.shelved_until)
    _suppressed(n, c["suppressed"] if "suppressed" in c else s.suppressed)
    _oos(n, c["out_of_service"] if "out_of_service" in c else s.out_of_service)
    _chattering(n, c["chattering"] if "chattering" in c else s.chattering)
    _activations(n, c["activations"] if "activations" in c else s.activations)
    _since(n, c["since"] if "since" in c else s.since)
    return n


def with_conditions(
    s: AlarmStatus,
    raised: bool | None,
    cleared: bool | None,
    active: bool | None = None,
    state: AlarmState | None = None,
    since: float | None = None,
) -> AlarmStatus:
    """`replace(s, raised=, cleared=)` (and `active`, and `state` with its `since`, when given), positionally.

    What a plain evaluation changes; the other fields are copied. Cheaper than `replace`, which
    looks every field up in its keyword arguments.
    """
    n = _new(AlarmStatus)
    _state(n, s.state if state is None else state)
    _active(n, s.active if active is None else active)
    _raised(n, raised)
    _cleared(n, cleared)
    _pending(n, s.pending_since)
    _clearing(n, s.clearing_since)
    _latched(n, s.latched)
    _shelved(n, s.shelved_until)
    _suppressed(n, s.suppressed)
    _oos(n, s.out_of_service)
    _chattering(n, s.chattering)
    _activations(n, s.activations)
    _since(n, s.since if state is None else since)
    return n


def _overlay(s: AlarmStatus) -> AlarmState | None:
    if s.out_of_service:
        return AlarmState.OUT_OF_SERVICE
    if s.shelved_until is not None:
        return AlarmState.SHELVED
    if s.suppressed:
        return AlarmState.SUPPRESSED
    return None


def _settle(s: AlarmStatus, cause: Cause, t: float, out: list[Transition]) -> AlarmStatus:
    """Move to the state the overlays and activity call for, recording a transition if it changed."""
    over = _overlay(s)
    if over is not None:
        target = over
    elif s.state in (AlarmState.SHELVED, AlarmState.SUPPRESSED, AlarmState.OUT_OF_SERVICE):
        target = AlarmState.UNACK if s.active else AlarmState.NORMAL
    else:
        target = s.state
    if target is not s.state:
        out.append(_tr(t, s.state, target, cause, s.active, s.latched, s.chattering))
        s = replace(s, state=target, since=t, latched=False if over is not None else s.latched)
    return s


def _activate(s: AlarmStatus, cfg: AlarmConfig, t: float, out: list[Transition]) -> AlarmStatus:
    if s.latched:  # the condition came back while latched: still the same standing alarm
        s = replace(s, active=True, pending_since=None, clearing_since=None)
    elif s.state in (AlarmState.NORMAL, AlarmState.RTN_UNACK):
        out.append(_tr(t, s.state, AlarmState.UNACK, Cause.RAISED, True, False, s.chattering))
        s = replace(
            s, active=True, pending_since=None, clearing_since=None, state=AlarmState.UNACK, since=t
        )
    else:
        s = replace(s, active=True, pending_since=None, clearing_since=None)
    if cfg.chatter is not None:
        limit, window = cfg.chatter
        recent = (*(a for a in s.activations if a > t - window), t)
        s = replace(s, activations=recent[-(limit + 1) :])
        if len(recent) > limit and not s.chattering:
            s = replace(s, chattering=True)
            out.append(_tr(t, s.state, s.state, Cause.CHATTERING, True, s.latched, True))
    return s


def _deactivate(s: AlarmStatus, cfg: AlarmConfig, t: float, out: list[Transition]) -> AlarmStatus:
    if s.state not in (AlarmState.UNACK, AlarmState.ACKED):
        return replace(s, active=False, pending_since=None, clearing_since=None)
    if cfg.latch:
        if not s.latched:  # reported once: a condition flickering under a latched alarm is not news
            out.append(_tr(t, s.state, s.state, Cause.LATCHED, False, True, s.chattering))
        return replace(s, active=False, pending_since=None, clearing_since=None, latched=True)
    target = AlarmState.RTN_UNACK if s.state is AlarmState.UNACK else AlarmState.NORMAL
    out.append(_tr(t, s.state, target, Cause.CLEARED, False, False, s.chattering))
    return replace(s, active=False, pending_since=None, clearing_since=None, state=target, since=t)


def _deadlines(s: AlarmStatus, cfg: AlarmConfig) -> list[tuple[float, int]]:
    found: list[tuple[float, int]] = []
    if s.pending_since is not None:
        found.append((s.pending_since + cfg.on_delay, 0))
    if s.clearing_since is not None:
        found.append((s.clearing_since + cfg.off_delay, 1))
    if s.shelved_until is not None:
        found.append((s.shelved_until, 2))
    if s.chattering and cfg.chatter is not None:
        limit, window = cfg.chatter
        oldest = s.activations[-(limit + 1)] if len(s.activations) > limit else s.since or 0.0
        found.append((oldest + window, 3))
    return found


def next_deadline(status: AlarmStatus, config: AlarmConfig) -> float | None:
    """The earliest time at which the alarm changes without new data (for the scheduler)."""
    s = status
    if s.pending_since is None and s.clearing_since is None and s.shelved_until is None and not s.chattering:
        return None
    found = _deadlines(status, config)
    return min(found)[0] if found else None


def _advance(s: AlarmStatus, cfg: AlarmConfig, now: float, out: list[Transition]) -> AlarmStatus:
    if s.pending_since is None and s.clearing_since is None and s.shelved_until is None and not s.chattering:
        return s  # no deadline at all (what `_deadlines` would find), the common case
    while True:
        due = [d for d in _deadlines(s, cfg) if d[0] <= now]
        if not due:
            return s
        t, kind = min(due)
        if kind == 0:
            s = _activate(s, cfg, t, out)
        elif kind == 1:
            s = _deactivate(s, cfg, t, out)
        elif kind == 2:
            s = _settle(replace(s, shelved_until=None), Cause.SHELVE_EXPIRED, t, out)
        else:
            window = cfg.chatter[1] if cfg.chatter is not None else 0.0
            s = replace(s, chattering=False, activations=tuple(a for a in s.activations if a > t - window))
            out.append(_tr(t, s.state, s.state, Cause.CHATTER_END, s.active, s.latched, False))


def _track(s: AlarmStatus, ev: Evaluation, cfg: AlarmConfig, now: float) -> AlarmStatus:
    raised, cleared = ev.raised, ev.cleared
    if raised is None:
        if cfg.on_missing is MissingMode.RAISE:
            raised, cleared = True, False
        elif cfg.on_missing is MissingMode.CLEAR:
            raised, cleared = False, True
        else:  # HOLD: neither raises nor clears, and no delay runs on unknown data
            return replace(s, raised=None, cleared=None, pending_since=None, clearing_since=None)
    if cleared is None:
        cleared = not raised
    if not s.active:
        pending = (s.pending_since if s.pending_since is not None else now) if raised else None
        return replace(s, raised=raised, cleared=cleared, pending_since=pending, clearing_since=None)
    clearing = cleared and not raised
    since = (s.clearing_since if s.clearing_since is not None else now) if clearing else None
    return replace(s, raised=raised, cleared=cleared, clearing_since=since, pending_since=None)


def _act(s: AlarmStatus, action: Action, now: float, out: list[Transition]) -> AlarmStatus:
    kind = action.kind
    if kind is ActionKind.ACK:
        if s.state is AlarmState.UNACK:
            out.append(
                _tr(now, s.state, AlarmState.ACKED, Cause.ACK, s.active, s.latched, s.chattering)
            )
            return replace(s, state=AlarmState.ACKED, since=now)
        if s.state is AlarmState.RTN_UNACK:
            out.append(_tr(now, s.state, AlarmState.NORMAL, Cause.ACK, False, False, s.chattering))
            return replace(s, state=AlarmState.NORMAL, since=now)
        return s  # nothing to acknowledge: acknowledging twice is harmless
    if kind is ActionKind.RESET:
        if not s.latched:
            msg = f"The alarm in state {s.state.value} is not latched, so there is nothing to reset."
            raise AlarmActionError(msg)
        if s.active:
            msg = "The latched alarm's condition is active again; it can be reset once it has returned."
            raise AlarmActionError(msg)
        out.append(_tr(now, s.state, AlarmState.NORMAL, Cause.RESET, False, False, s.chattering))
        return replace(s, state=AlarmState.NORMAL, latched=False, since=now)
    if kind is ActionKind.SHELVE:
        if action.until is None or action.until <= now:
            msg = f"An alarm can only be shelved until a later time; got until={action.until} at {now}."
            raise AlarmActionError(msg)
        return _settle(replace(s, shelved_until=action.until), Cause.SHELVE, now, out)
    if kind is ActionKind.UNSHELVE:
        return _settle(replace(s, shelved_until=None), Cause.UNSHELVE, now, out)
    if kind is ActionKind.OUT_OF_SERVICE:
        return _settle(replace(s, out_of_service=True), Cause.OUT_OF_SERVICE, now, out)
    return _settle(replace(s, out_of_service=False), Cause.IN_SERVICE, now, out)


def _plain(s: AlarmStatus, cfg: AlarmConfig, ev: Evaluation) -> bool:
    """Nothing but the raise and clear conditions at play: no delay, latch, chatter, shelve or overlay."""
    return (
        ev.raised is not None
        and not ev.suppressed
        and not s.suppressed
        and not cfg.on_delay
        and not cfg.off_delay
        and not cfg.latch
        and cfg.chatter is None
        and s.pending_since is None
        and s.clearing_since is None
        and s.shelved_until is None
        and not s.latched
        and not s.chattering
        and not s.out_of_service
    )


def _plain_step(s: AlarmStatus, ev: Evaluation, now: float, out: list[Transition]) -> AlarmStatus:
    """`step` of a plain evaluation (see `_plain`) in one `replace`.

    It gives what `_track` and an immediate `_activate` or `_deactivate` give: no deadline is
    pending, so `_advance` has nothing to do.
    """
    raised = ev.raised
    cleared = (not raised) if ev.cleared is None else ev.cleared
    state = s.state
    if not s.active:
        if not raised:
            return with_conditions(s, raised, cleared)
        if state is AlarmState.NORMAL or state is AlarmState.RTN_UNACK:
            out.append(_tr(now, state, AlarmState.UNACK, Cause.RAISED, True, False, False))
            return with_conditions(s, raised, cleared, True, AlarmState.UNACK, now)
        return with_conditions(s, raised, cleared, True)
    if not cleared or raised:
        return with_conditions(s, raised, cleared)
    if state is not AlarmState.UNACK and state is not AlarmState.ACKED:
        return with_conditions(s, raised, cleared, False)
    target = AlarmState.RTN_UNACK if state is AlarmState.UNACK else AlarmState.NORMAL
    out.append(_tr(now, state, target, Cause.CLEARED, False, False, False))
    return with_conditions(s, raised, cleared, False, target, now)


def step(
    status: AlarmStatus, config: AlarmConfig, event: Event, now: float
) -> tuple[AlarmStatus, list[Transition]]:
    """Apply one evaluation, tick or operator action at time `now`.

    Return the new status and the transitions in time order: deadlines passed since the last step
    come first, at their own time.
    """
    out: list[Transition] = []
    if event.__class__ is Evaluation and _plain(status, config, event):
        return _plain_step(status, event, now, out), out
    return general_step(status, config, event, now, out)


def general_step(
    status: AlarmStatus, config: AlarmConfig, event: Event, now: float, out: list[Transition]
) -> tuple[AlarmStatus, list[Transition]]:
    """`step` without the shortcut for plain evaluations (the reference it is tested against)."""
    s = _advance(status, config, now, out)
    if isinstance(event, Evaluation):
        s = _track(s, event, config, now)
        if event.suppressed != s.suppressed:
            cause = Cause.SUPPRESS if event.suppressed else Cause.UNSUPPRESS
            s = _settle(replace(s, suppressed=event.suppressed), cause, now, out)
        if s.shelved_until is None and not s.chattering and (s.pending_since is None) != (
            s.clearing_since is None
        ):
            # A delay starting now with no other deadline: what `_advance` would do, without its search.
            if s.pending_since == now and not config.on_delay:
                return _activate(s, config, now, out), out
            if s.clearing_since == now and not config.off_delay:
                return _deactivate(s, config, now, out), out
        s = _advance(s, config, now, out)
    elif isinstance(event, Action):
        s = _act(s, event, now, out)
    elif isinstance(event, Leave):
        if s.state is AlarmState.NORMAL:
            s = AlarmStatus(since=s.since)  # nothing tracked, latched, shelved or pending
        else:
            out.append(_tr(now, s.state, AlarmState.NORMAL, Cause.LEFT_CLASS, False, False, False))
            s = AlarmStatus(since=now)
    return s, out
