"""The embedded AWS fails a Distributed Map Run as AWS does: when failed items exceed the tolerance."""

from __future__ import annotations

from wavectl.local.distributed_map import exceeds_tolerance


def test_with_no_tolerance_the_first_failed_item_fails_the_map_run():
    # Given ToleratedFailureCount and ToleratedFailurePercentage left at their default (0)
    # Then one failed item out of 500 fails the run, and none does not
    assert exceeds_tolerance(1, 500, 0, 0.0)
    assert not exceeds_tolerance(0, 500, 0, 0.0)


def test_a_map_run_fails_only_once_either_tolerance_is_exceeded():
    # Given 3 failures tolerated by count and 10 % by percentage, of 50 items
    # Then 3 failures (6 %) pass, 4 fail it by count; with 100 tolerated by count, 6 (12 %) fail it
    assert not exceeds_tolerance(3, 50, 3, 10.0)
    assert exceeds_tolerance(4, 50, 3, 10.0)
    assert exceeds_tolerance(6, 50, 100, 10.0)
