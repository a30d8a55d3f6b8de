"""Simulated RDS durations: an operation is in progress in the answer of the call that started it,
whatever the shared clock did meanwhile, and `finish` releases every held operation."""

from __future__ import annotations

from types import SimpleNamespace

from wavectl.local.rds_durations import RdsDurations


def test_the_starting_call_answers_in_progress_even_if_the_clock_jumped_past_the_end():
    # Given a snapshot of 30 simulated seconds started at second 0
    clock = [0.0]
    durations = RdsDurations(now=lambda: clock[0], factor=30 / 1380)  # 1380 s planned for 100 GiB
    durations.start()
    snapshot = SimpleNamespace()
    durations.hold(snapshot, "snapshot", "instance", "db-01", 100)

    # When another execution's Wait moves the shared clock 10 minutes on before the answer is written
    clock[0] = 600.0

    # Then the starting call still answers `creating`, and the next Describe* sees it finished
    assert durations.status_of(snapshot, "available") == "creating"
    durations.described()
    assert durations.status_of(snapshot, "available") == "available"


def test_finish_releases_every_held_operation_now():
    # Given a restore held for hours
    clock = [0.0]
    durations = RdsDurations(now=lambda: clock[0], factor=10.0)
    durations.start()
    restore = SimpleNamespace()
    durations.hold(restore, "restore", "instance", "db-22", 100)
    durations.described()
    clock[0] = 60.0
    assert durations.status_of(restore, "available") == "creating"

    # When the test releases the held operations
    durations.finish()

    # Then it is available at once
    assert durations.status_of(restore, "available") == "available"
