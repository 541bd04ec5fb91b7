"""Keeping a long-running runtime's live state out of the cyclic garbage collector's full scans."""

from __future__ import annotations

import gc
from types import TracebackType
from typing import Any, Self

__all__ = ["GcFreezer"]


class GcFreezer:
    """Freeze what survives each full collection, so the next one scans only what came since.

    CPython's full collection walks every tracked object: with thousands of twins and bound
    things that is tens to hundreds of milliseconds with the event loop stopped, once every few
    seconds under load. Entering freezes the start-up state (`gc.freeze()`); after every later
    full collection, `refreeze()` (called by the runtime between batches) freezes its survivors
    too, so full collections stay as short as the objects promoted since the last one; and
    while active it runs them more often (after every `full_every` collections of the middle
    generation instead of CPython's 10), which splits the same work into shorter pauses.

    What is frozen is still freed by reference counting; only a reference cycle that becomes
    garbage after it was frozen waits for the next thaw: every `thaw_every` freezes, everything
    is unfrozen and collected once (one long pause). Process-wide: for a process that runs one
    runtime for its lifetime. Leaving unfreezes everything.
    """

    def __init__(self, *, thaw_every: int = 1000, full_every: int = 2) -> None:
        if thaw_every < 1 or full_every < 1:
            msg = f"GcFreezer needs thaw_every and full_every >= 1, not {thaw_every} and {full_every}."
            raise ValueError(msg)
        self.thaw_every = thaw_every
        self.full_every = full_every
        self._thresholds = gc.get_threshold()
        self.freezes = 0
        self.thaws = 0
        self._due = False

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        # May run in any thread that allocates: only note that a full collection finished.
        if phase == "stop" and info.get("generation") == 2:
            self._due = True

    def __enter__(self) -> Self:
        gc.collect()
        gc.freeze()
        self.freezes += 1
        gc.callbacks.append(self._on_gc)
        self._thresholds = gc.get_threshold()
        gc.set_threshold(self._thresholds[0], self._thresholds[1], self.full_every)
        return self

    def refreeze(self) -> bool:
        """Freeze the survivors of a full collection that ran since the last call; `True` if it did.

        CPython skips a due full collection while less than a quarter of the objects it last
        kept are new, a count freezing does not lower; it is run here instead, between batches.
        """
        if not self._due and gc.get_count()[2] >= self.full_every:
            gc.collect()
        if not self._due:
            return False
        self._due = False
        if self.freezes % self.thaw_every == 0:
            gc.unfreeze()
            gc.collect()
            self.thaws += 1
            self._due = False  # that collection's survivors are frozen right below
        gc.freeze()
        self.freezes += 1
        return True

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)
        gc.set_threshold(*self._thresholds)
        gc.unfreeze()
