"""Poll counts and detection latency of the db-snapshot-copy wait loops, by database size.

For each step and size: the expected duration from the size model, the polls needed when the
operation takes exactly that long (budget: `POLL_BUDGET`), half as long and three times as long,
and the worst detection latency as a share of the expected (or actual, when late) duration. Then,
for Aurora clusters (which report 1 GiB), the polls of a real-sized cluster planned at the default
size against the same cluster planned at the runbook's `size_gib`.

    .venv/bin/python benchmarks/db_poll_backoff.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tasks.db_snapshot_copy.backoff import (
    DEFAULT_CLUSTER_GIB,
    LATENCY_FRACTION,
    POLL_BUDGET,
    RATES,
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
    header = f"{'step':<28}{'GiB':>7}{'expected':>10}{'polls@1x':>9}{'@0.5x':>7}{'@3x':>6}{'worst lat':>10}"
    print(header)
    print("-" * len(header))
    for operation, db_type in RATES:
        for size in SIZES_GIB:
            expected = expected_seconds(operation, db_type, size)
            on_time, early, late = (simulate(expected, int(expected * f)) for f in (1, 0.5, 3))
            flag = "" if on_time.polls <= POLL_BUDGET else "  over budget (wait capped at 4 h)"
            print(
                f"{operation + ' ' + db_type:<28}{size:>7}{_duration(expected):>10}{on_time.polls:>9}"
                f"{early.polls:>7}{late.polls:>6}{worst_latency(expected):>10.1%}{flag}"
            )


def aurora_size_effect() -> None:
    """An Aurora cluster of a real size, planned at the default size vs at the runbook's `size_gib`."""
    print()
    print(f"Aurora clusters report 1 GiB: planned at {DEFAULT_CLUSTER_GIB} GiB unless size_gib is set")
    header = (
        f"{'step':<28}{'real GiB':>9}{'actual':>9}{'default: polls':>15}{'latency':>9}"
        f"{'size_gib: polls':>16}{'latency':>9}"
    )
    print(header)
    print("-" * len(header))
    for operation in ("snapshot", "copy-cross-region", "restore"):
        for size in (500, 2000, 10000, 65536):
            actual = expected_seconds(operation, "cluster", size)
            guessed = simulate(expected_seconds(operation, "cluster", DEFAULT_CLUSTER_GIB), actual)
            sized = simulate(actual, actual)
            print(
                f"{operation + ' cluster':<28}{size:>9}{_duration(actual):>9}{guessed.polls:>15}"
                f"{guessed.latency / actual:>9.1%}{sized.polls:>16}{sized.latency / actual:>9.1%}"
            )


if __name__ == "__main__":
    main()
    aurora_size_effect()
