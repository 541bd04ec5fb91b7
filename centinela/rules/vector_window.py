"""Event-time windows of one input path over many things at once, with the engine's exact arithmetic.

The engine evaluates a window over a path's series at three kinds of instants: when the thing is bound,
at each reading of the path, and at window-edge timers (the oldest point leaves the window) that fire
before the thing's next step. A window holds the points in `(now - seconds, now]`; its running sum is
kept by adding each point on arrival and subtracting it on eviction, and reset to 0.0 when the window
empties. Here the instants (timers included) are found with searchsorted, and the running sum is
replayed as the same sequence of float additions (`np.add.accumulate` is sequential), so every
aggregate is bit-for-bit the engine's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["Ranked", "WindowEvents", "running_sums", "time_ranks", "window_events"]

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]


class Ranked:
    """(thing, time) pairs sorted by thing then time, searched by (thing, time) through exact integer keys.

    A time is replaced by its rank among the distinct times, so `thing * m + rank` orders the pairs
    as the tuples do and comparisons stay exact (no arithmetic on the times themselves).
    """

    def __init__(self, k: Ints, t: Floats) -> None:
        self.u, rank = time_ranks(t)
        self.m = len(self.u) + 1
        self.code = k * self.m + rank

    @classmethod
    def from_codes(cls, u: Floats, code: Ints) -> Ranked:
        """From sorted codes `k * (len(u) + 1) + rank of t in u`, where `u` holds every t (and maybe more)."""
        ranked = cls.__new__(cls)
        ranked.u, ranked.m, ranked.code = u, len(u) + 1, code
        return ranked

    def left(self, k: Ints, q: Floats) -> Ints:
        """How many pairs come before (k, q): those of earlier things, and of thing k before q."""
        return np.searchsorted(self.code, k * self.m + np.searchsorted(self.u, q, "left"), "left")

    def right(self, k: Ints, q: Floats) -> Ints:
        """How many pairs come before or at (k, q)."""
        return np.searchsorted(self.code, k * self.m + np.searchsorted(self.u, q, "right"), "left")

    def contains(self, k: Ints, q: Floats) -> npt.NDArray[np.bool_]:
        return self.right(k, q) > self.left(k, q)


@dataclass(frozen=True, slots=True)
class WindowEvents:
    """The instants at which one path's window is evaluated, per thing, with the window at each."""

    thing: Ints  # thing index (sorted by thing, then time)
    time: Floats
    timer: npt.NDArray[np.bool_]  # True for a window-edge timer, False for the bind or a reading
    lo: Ints  # the window is points[lo:hi] (global point indices)
    hi: Ints
    total: Floats  # the engine's running sum after the event

    def count(self) -> Ints:
        return self.hi - self.lo


def window_events(
    pts_thing: Ints,
    pts_t: Floats,
    pts_x: Floats,
    bind_t: Floats,
    steps: Ranked,
    seconds: float,
    end: float,
) -> WindowEvents:
    """Window instants of one path for things 0..K-1.

    `pts_*`: the path's points sorted by (thing, time) (the bind value included); `bind_t[k]`: when thing
    k is bound; `steps`: every step of the things, the instants that cancel or
    follow timers; `end`: the end of the replay (timers due by then fire).
    """
    nthings = len(bind_t)
    npts = len(pts_t)
    pkeys = Ranked(pts_thing, pts_t)
    # Base events: the bind, then every reading of the path after it. `hi` (points arrived so far) is
    # known for them; a timer keeps the `hi` of the event it follows (no reading came in between).
    things = np.arange(nthings, dtype=np.int64)
    later = np.flatnonzero(pts_t > bind_t[pts_thing])
    ev_k = np.concatenate([things, pts_thing[later]])
    ev_t = np.concatenate([bind_t, pts_t[later]])
    ev_hi = np.concatenate([pkeys.right(things, bind_t), later + 1]).astype(np.int64)
    order = np.lexsort((ev_t, ev_k))
    ev_k, ev_t, ev_hi = ev_k[order], ev_t[order], ev_hi[order]
    # The next reading of the path after each event (inf: none): a timer must come before it.
    has_next = ev_hi < npts
    has_next[has_next] = pts_thing[ev_hi[has_next]] == ev_k[has_next]
    next_read = np.full(len(ev_k), np.inf)
    next_read[has_next] = pts_t[ev_hi[has_next]]
    all_k, all_t, all_lo, all_hi, all_timer = [], [], [], [], []
    cur_k, cur_t, cur_hi, cur_next, is_timer = ev_k, ev_t, ev_hi, next_read, False
    for _ in range(1_000_000):  # one round per timer in a chain; bounded by the points in a window
        if len(cur_k) == 0:
            break
        lo = pkeys.right(cur_k, cur_t - seconds).astype(np.int64)
        all_k.append(cur_k)
        all_t.append(cur_t)
        all_lo.append(lo)
        all_hi.append(cur_hi)
        all_timer.append(np.full(len(cur_k), is_timer))
        live = cur_hi > lo
        wake = np.full(len(cur_k), np.inf)
        wake[live] = pts_t[lo[live]] + seconds
        fire = live & (wake > cur_t) & (wake < cur_next) & (wake <= end)
        if fire.any():
            # A step of the thing at exactly the wake time drops the timer (its `_schedule`).
            idx = np.flatnonzero(fire)
            fire[idx[steps.contains(cur_k[idx], wake[idx])]] = False
        cur_k, cur_t, cur_hi, cur_next = cur_k[fire], wake[fire], cur_hi[fire], cur_next[fire]
        is_timer = True
    k, t = np.concatenate(all_k), np.concatenate(all_t)
    order = np.lexsort((t, k))
    k, t = k[order], t[order]
    timer = np.concatenate(all_timer)[order]
    lo, hi = np.concatenate(all_lo)[order], np.concatenate(all_hi)[order]
    total = running_sums(k, lo, hi, pts_x)
    return WindowEvents(k, t, timer, lo, hi, total)


def time_ranks(t: Floats) -> tuple[Floats, Ints]:
    """The distinct times in order, and each time's rank among them (one sort, no search)."""
    order = np.argsort(t)
    st = t[order]
    new = np.ones(len(t), dtype=bool)
    new[1:] = st[1:] != st[:-1]
    rank = np.empty(len(t), dtype=np.int64)
    rank[order] = np.cumsum(new) - 1
    return st[new], rank


def running_sums(k: Ints, lo: Ints, hi: Ints, x: Floats) -> Floats:
    """The engine's `_Window.total` after each event: +x on arrival, -x on eviction, 0.0 when empty."""
    n = len(k)
    total = np.zeros(n)
    if n == 0:
        return total
    first = np.ones(n, dtype=bool)
    first[1:] = k[1:] != k[:-1]
    # Before a thing's first event (its bind) nothing was added nor evicted.
    prev_hi = np.where(first, lo, np.roll(hi, 1))
    prev_lo = np.where(first, lo, np.roll(lo, 1))
    adds = hi - prev_hi
    evicts = lo - prev_lo
    op_end = np.cumsum(adds + evicts)
    op_start = op_end - (adds + evicts)
    ops = np.empty(int(op_end[-1]))
    # Each event's arrivals, then its evictions (the engine's push: add, then evict).
    ops[_ranges(op_start, adds)] = x[_ranges(prev_hi, adds)]
    ops[_ranges(op_start + adds, evicts)] = -x[_ranges(prev_lo, evicts)]
    # A running sum restarts at each thing's bind and after an event that empties the window.
    empty = hi == lo
    restart = first.copy()
    restart[1:] |= empty[:-1]
    seg_starts = np.flatnonzero(restart)
    seg_ends = np.append(seg_starts[1:], n)
    o0 = op_start[seg_starts]
    length = op_end[seg_ends - 1] - o0 + 1  # a leading 0.0: the engine's sum starts at 0.0
    width = int(length.max())
    if len(seg_starts) * width <= 4 * (len(ops) + len(seg_starts)) + 1024:
        # Every segment as a row, padded with zeros at its end: accumulate along a row is sequential.
        grid = np.zeros((len(seg_starts), width))
        seg_of_op = np.repeat(np.arange(len(seg_starts)), length - 1)
        col = np.arange(len(ops)) - np.repeat(o0, length - 1) + 1
        grid[seg_of_op, col] = ops
        acc = np.add.accumulate(grid, axis=1)
        seg_of_event = np.repeat(np.arange(len(seg_starts)), seg_ends - seg_starts)
        total = acc[seg_of_event, op_end - o0[seg_of_event]]
    else:
        for a, b in zip(seg_starts.tolist(), seg_ends.tolist(), strict=True):
            s0, s1 = int(op_start[a]), int(op_end[b - 1])
            run = np.add.accumulate(np.concatenate(([0.0], ops[s0:s1])))
            total[a:b] = run[op_end[a:b] - s0]
    total[empty] = 0.0
    return total


def _ranges(starts: Ints, lengths: Ints) -> Ints:
    """Concatenated aranges: start[i] .. start[i] + lengths[i] for every i."""
    lengths = np.asarray(lengths, dtype=np.int64)
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    nz = lengths > 0
    s, ln = np.asarray(starts, dtype=np.int64)[nz], lengths[nz]
    offsets = np.repeat(s - np.concatenate(([0], np.cumsum(ln)[:-1])), ln)
    return offsets + np.arange(total, dtype=np.int64)
