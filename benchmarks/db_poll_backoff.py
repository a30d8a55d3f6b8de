"""Poll counts and detection latency of the db-snapshot-copy wait loops, by database size.

For each step and size: the expected duration from the size model, the polls needed when the
operation takes exactly that long (budget: `POLL_BUDGET`), half as long and three times as long,
the worst detection latency as a share of the expected (or actual, when late) duration, the
deadline (`DEADLINE_FACTOR` x expected, at least `MIN_DEADLINE_SECONDS`) and the polls a stuck
operation gets before the step gives up on it (`Wavectl.TaskFailed`, then compensation). Then,
for Aurora clusters (which report 1 GiB), the polls of a real-sized cluster planned at the default
size against the same cluster planned at the runbook's `size_gib`.

    .venv/bin/python benchmarks/db_poll_backoff.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tasks.common.backoff import (
    DEADLINE_FACTOR,
    DEFAULT_CLUSTER_GIB,
    GUESSED_SIZE_MIN_DEADLINE_SECONDS,
    LATENCY_FRACTION,
    MIN_DEADLINE_SECONDS,
    POLL_BUDGET,
    RATES,
    deadline_seconds,
    expected_seconds,
    simulate,
)

SIZES_GIB = [1, 10, 100, 500, 1000, 5000, 10000, 65536]


def _duration(seconds: float) -> str:
    if seconds >= 86400:
        return f"{seconds / 86400:.1f}d"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 60:.0f}m" if seconds >= 60 else f"{seconds:.0f}s"


def worst_latency(expected: int) -> float:
    """Worst latency over completions at every 1% of the expected duration, as a share of it."""
    worst = 0.0
    for percent in range(1, 101):
        actual = max(1, expected * percent // 100)
        worst = max(worst, simulate(expected, actual).latency / expected)
    return worst


def main() -> None:
    print(f"budget: <= {POLL_BUDGET} polls to the expected duration, latency <= {LATENCY_FRACTION:.0%} of it")
    print(
        f"deadline: {DEADLINE_FACTOR}x the expected duration, at least {_duration(MIN_DEADLINE_SECONDS)}; "
        "'stuck' = polls until a never-finishing operation fails the step"
    )
    header = (
        f"{'step':<28}{'GiB':>7}{'expected':>10}{'polls@1x':>9}{'@0.5x':>7}{'@3x':>6}{'worst lat':>10}"
        f"{'deadline':>10}{'stuck':>7}"
    )
    print(header)
    print("-" * len(header))
    for operation, db_type in RATES:
        for size in SIZES_GIB:
            expected = expected_seconds(operation, db_type, size)
            deadline = deadline_seconds(expected)
            on_time, early, late = (simulate(expected, int(expected * f), deadline) for f in (1, 0.5, 3))
            stuck = simulate(expected, 10**9, deadline)
            assert stuck.timed_out and stuck.detected_after == deadline
            flag = "" if on_time.polls <= POLL_BUDGET else "  over budget (wait capped at 4 h)"
            print(
                f"{operation + ' ' + db_type:<28}{size:>7}{_duration(expected):>10}{on_time.polls:>9}"
                f"{early.polls:>7}{late.polls:>6}{worst_latency(expected):>10.1%}"
                f"{_duration(deadline):>10}{stuck.polls:>7}{flag}"
            )


def aurora_size_effect() -> None:
    """An Aurora cluster of a real size, planned at the default size vs at the runbook's `size_gib`.

    A default-sized plan has a guessed size, so its deadline floor is 24 h rather than 1 h;
    `gives up` marks the real sizes whose operation outlasts even that (set `size_gib`).
    """
    print()
    print(
        f"Aurora clusters report 1 GiB: planned at {DEFAULT_CLUSTER_GIB} GiB unless size_gib is set "
        f"(deadline floor then {_duration(GUESSED_SIZE_MIN_DEADLINE_SECONDS)})"
    )
    header = (
        f"{'step':<28}{'real GiB':>9}{'actual':>9}{'default: polls':>15}{'latency':>9}{'deadline':>10}"
        f"{'size_gib: polls':>16}{'latency':>9}{'deadline':>10}"
    )
    print(header)
    print("-" * len(header))
    for operation in ("snapshot", "copy-cross-region", "restore"):
        for size in (500, 2000, 10000, 65536):
            actual = expected_seconds(operation, "cluster", size)
            planned = expected_seconds(operation, "cluster", DEFAULT_CLUSTER_GIB)
            guessed_deadline = deadline_seconds(planned, size_guessed=True)
            guessed = simulate(planned, actual, guessed_deadline)
            sized = simulate(actual, actual, deadline_seconds(actual))
            outcome = (
                f"{'gives up':>24}"
                if guessed.timed_out
                else f"{guessed.polls:>15}{guessed.latency / actual:>9.1%}"
            )
            print(
                f"{operation + ' cluster':<28}{size:>9}{_duration(actual):>9}{outcome}"
                f"{_duration(guessed_deadline):>10}{sized.polls:>16}{sized.latency / actual:>9.1%}"
                f"{_duration(deadline_seconds(actual)):>10}"
            )


if __name__ == "__main__":
    main()
    aurora_size_effect()
