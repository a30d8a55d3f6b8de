"""How long to wait before the next status poll of a long operation (any wave kind: RDS copies, deletes).

Each operation gets an expected duration from the database size. Polls then follow a capped
exponential backoff: a first short wait (half the cap), then waits of `LATENCY_FRACTION` (5%) of
the expected duration, so an operation finishing anywhere up to its expected duration is seen
within 5% of that duration, in at most `POLL_BUDGET` polls. An operation running late keeps
growing its wait by 5% of the time already waited (geometric, so an overrun costs few polls and
is still seen within 5% of its actual duration).

Every wait has a deadline: `DEADLINE_FACTOR` (3) times the expected duration, at least
`MIN_DEADLINE_SECONDS` (1 h), or `GUESSED_SIZE_MIN_DEADLINE_SECONDS` (24 h) when the size is a
guess (an Aurora cluster without the runbook's `size_gib`). The last wait is shortened to end on
the deadline, and a poll that still finds the operation unfinished there fails the step, so a
snapshot or restore stuck in `creating` ends in compensation instead of keeping the wave running.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

LATENCY_FRACTION = 0.05
MIN_WAIT_SECONDS = 5
MAX_WAIT_SECONDS = 4 * 3600  # beyond ~80 h operations the poll count grows
# 1 ramp poll + 1 / LATENCY_FRACTION polls at the cap reach the expected duration.
POLL_BUDGET = 1 + round(1 / LATENCY_FRACTION)
DEADLINE_FACTOR = 3  # an operation 3x later than planned is stuck, not slow
MIN_DEADLINE_SECONDS = 3600  # small databases still queue for minutes on RDS
# a cluster planned at DEFAULT_CLUSTER_GIB may really be TiBs: do not give up on it after an hour
GUESSED_SIZE_MIN_DEADLINE_SECONDS = 24 * 3600
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


def deadline_seconds(expected: int, *, size_guessed: bool = False, factor: float = DEADLINE_FACTOR) -> int:
    """How long a wait may last before the operation counts as stuck."""
    floor = GUESSED_SIZE_MIN_DEADLINE_SECONDS if size_guessed else MIN_DEADLINE_SECONDS
    return max(floor, math.ceil(factor * expected))


def next_wait(expected: int, waited: int, polls: int, deadline: int | None = None) -> int:
    """Seconds to wait before poll number `polls + 1`, having waited `waited` seconds so far.

    Up to the expected duration, poll k (1-based) is due at (k - 1/2) x cap, cap = 5% of the
    expected duration: a half-cap first wait, then one cap apart; scheduling on that grid (not
    adding rounded waits) keeps whole-second rounding from adding polls. Past the expected
    duration the wait grows with the time already waited (x 1.05 per poll). With a `deadline`,
    the wait ends on it at the latest, so the poll that gives up comes on time.
    """
    cap = LATENCY_FRACTION * expected
    if waited < expected:
        wait = math.floor((polls + 0.5) * cap) - waited
    else:
        wait = math.floor(LATENCY_FRACTION * waited)
    wait = min(MAX_WAIT_SECONDS, max(MIN_WAIT_SECONDS, wait))
    if deadline is not None and deadline > waited:
        # end on the deadline rather than leave a last wait shorter than the minimum
        wait = deadline - waited if deadline - waited - wait < MIN_WAIT_SECONDS else wait
    return int(wait)


@dataclass(frozen=True)
class Schedule:
    polls: int
    detected_after: int
    latency: int
    timed_out: bool = False


def simulate(expected: int, actual: int, deadline: int | None = None) -> Schedule:
    """The polls a wait loop makes for an operation that really takes `actual` seconds.

    With a `deadline`, the loop gives up at the first poll at or past it (`timed_out`).
    """
    waited = polls = 0
    while waited < actual:
        if deadline is not None and waited >= deadline:
            return Schedule(polls=polls, detected_after=waited, latency=waited - actual, timed_out=True)
        waited += next_wait(expected, waited, polls, deadline)
        polls += 1
    return Schedule(polls=polls, detected_after=waited, latency=waited - actual)
