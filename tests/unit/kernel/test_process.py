"""A server process freezes what start-up made, so full collections stop walking it."""

from __future__ import annotations

import gc

from shared.web.process import freeze_startup_objects


def test_start_up_objects_are_frozen_and_new_ones_still_collected() -> None:
    try:
        frozen = freeze_startup_objects()
        assert frozen > 1000
        # frozen objects still die by reference counting (other tests' threads may be releasing theirs)
        assert 1000 < gc.get_freeze_count() <= frozen
        cycle: list[object] = []
        cycle.append(cycle)
        del cycle
        assert gc.collect() >= 1  # what is made after the freeze is still garbage-collected
    finally:
        gc.unfreeze()
