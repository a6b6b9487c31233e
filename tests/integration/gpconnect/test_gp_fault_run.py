"""The write-back fault run in the test tier: the real worker, real HTTP, the simulator failing 30% of
calls and timing out 10%. N is small here (GP_FAULT_RUN_TEST_N, default 60); `python -m bench gpconnect`
runs 500."""

from __future__ import annotations

import os

from bench.gpconnect import fault_run


def test_every_prescription_change_is_applied_exactly_once_through_faults_and_only_poison_is_dead(tmp_path):
    n = int(os.environ.get("GP_FAULT_RUN_TEST_N", "60"))
    result = fault_run(n, poisoned=2, deadline_s=240, workdir=tmp_path)
    assert result["missing"] == [] and result["duplicated"] == []
    assert result["applied_exactly_once"] == n - 2
    assert result["applied_for_poisoned"] == []
    assert result["states"] == {"done": n - 2, "pending": 0, "dead": 2}
    assert result["dead_letters"] == 2
    assert result["simulator"].get("error", 0) > 0 and result["simulator"].get("timeout-after", 0) > 0
