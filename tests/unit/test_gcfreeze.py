"""GcFreezer: the live state leaves the collector's full scans; everything is restored on exit."""

from __future__ import annotations

import gc

import pytest

from centinela.gcfreeze import GcFreezer


def test_freezes_on_entry_and_restores_the_collector_on_exit() -> None:
    thresholds = gc.get_threshold()
    with GcFreezer(full_every=3) as freezer:
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (thresholds[0], thresholds[1], 3)
        assert freezer.freezes == 1
    assert gc.get_threshold() == thresholds
    assert gc.get_freeze_count() == 0
    assert freezer._on_gc not in gc.callbacks


def test_survivors_of_a_full_collection_are_frozen_at_the_next_refreeze() -> None:
    with GcFreezer() as freezer:
        kept = [[i] for i in range(1000)]  # new, tracked, alive: not frozen yet
        assert any(obj is kept for obj in gc.get_objects())
        gc.collect()
        assert freezer.refreeze() is True
        assert not any(obj is kept for obj in gc.get_objects())  # frozen now
        assert freezer.refreeze() is False  # no full collection since
        assert freezer.freezes == 2
    assert any(obj is kept for obj in gc.get_objects())


def test_every_thaw_every_freezes_everything_is_collected_once() -> None:
    with GcFreezer(thaw_every=2) as freezer:
        gc.collect()
        freezer.refreeze()
        assert (freezer.freezes, freezer.thaws) == (2, 0)
        gc.collect()
        freezer.refreeze()
        assert (freezer.freezes, freezer.thaws) == (3, 1)


def test_nonsense_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="thaw_every and full_every"):
        GcFreezer(thaw_every=0)
