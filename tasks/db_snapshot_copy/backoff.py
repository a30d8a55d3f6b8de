"""How long to wait before the next status poll of a long RDS operation.

Each operation gets an expected duration from the database size. Polls then follow a capped
exponential backoff: a first short wait (half the cap), then waits of `LATENCY_FRACTION` (5%) of
the expected duration, so an operation finishing anywhere up to its expected duration is seen
within 5% of that duration, in at most `POLL_BUDGET` polls. An operation running late keeps
growing its wait by 5% of the time already waited (geometric, so an overrun costs few polls and
is still seen within 5% of its actual duration).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

LATENCY_FRACTION = 0.05
MIN_WAIT_SECONDS = 5
MAX_WAIT_SECONDS = 4 * 3600  # beyond ~80 h operations the poll count grows
# 1 ramp poll + 1 / LATENCY_FRACTION polls at the cap reach the expected duration.
POLL_BUDGET = 1 + round(1 / LATENCY_FRACTION)
DEFAULT_CLUSTER_GIB = 100  # Aurora reports AllocatedStorage 1; its volume size needs CloudWatch


@dataclass(frozen=True)
class Rate:
    fixed_seconds: int
    seconds_per_gib: float

    def duration(self, size_gib: float) -> int:
        return int(self.fixed_seconds + self.seconds_per_gib * max(size_gib, 1))


# Planning figures (first full snapshot, no incremental benefit), per operation and database type.
RATES: dict[tuple[str, str], Rate] = {
    ("snapshot", "instance"): Rate(180, 12),
    ("snapshot", "cluster"): Rate(120, 2),  # Aurora snapshots are storage-level
    ("copy", "instance"): Rate(300, 15),
    ("copy", "cluster"): Rate(300, 10),
    ("copy-cross-region", "instance"): Rate(600, 40),
    ("copy-cross-region", "cluster"): Rate(600, 30),
    ("restore", "instance"): Rate(900, 3),
    ("restore", "cluster"): Rate(900, 2),
}


def expected_seconds(operation: str, db_type: str, size_gib: float) -> int:
    return RATES[(operation, db_type)].duration(size_gib)


def next_wait(expected: int, waited: int, polls: int) -> int:
    """Seconds to wait before poll number `polls + 1`, having waited `waited` seconds so far.

    Up to the expected duration, poll k (1-based) is due at (k - 1/2) x cap, cap = 5% of the
    expected duration: a half-cap first wait, then one cap apart; scheduling on that grid (not
    adding rounded waits) keeps whole-second rounding from adding polls. Past the expected
    duration the wait grows with the time already waited (x 1.05 per poll).
    """
    cap = LATENCY_FRACTION * expected
    if waited < expected:
        wait = math.floor((polls + 0.5) * cap) - waited
    else:
        wait = math.floor(LATENCY_FRACTION * waited)
    return int(min(MAX_WAIT_SECONDS, max(MIN_WAIT_SECONDS, wait)))


@dataclass(frozen=True)
class Schedule:
    polls: int
    detected_after: int
    latency: int


def simulate(expected: int, actual: int) -> Schedule:
    """The polls a wait loop makes for an operation that really takes `actual` seconds."""
    waited = polls = 0
    while waited < actual:
        waited += next_wait(expected, waited, polls)
        polls += 1
    return Schedule(polls=polls, detected_after=waited, latency=waited - actual)
