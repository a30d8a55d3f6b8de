"""Poll counts and detection latency of the db-snapshot-copy wait loops, by database size.

For each step and size: the expected duration from the size model, the polls needed when the
operation takes exactly that long (budget: `POLL_BUDGET`), half as long and three times as long,
the worst detection latency as a share of the expected (or actual, when late) duration, the
deadline (`DEADLINE_FACTOR` x expected, at least `MIN_DEADLINE_SECONDS`) and the polls a stuck
operation gets before the step gives up on it (`Wavectl.TaskFailed`, then compensation). Then,
for Aurora clusters (which report 1 GiB), the polls of a real-sized cluster planned at the default
size against the same cluster planned at the runbook's `size_gib`.

Last, the same loops run in the embedded AWS (simulated RDS durations, compressed time): the
history events of one database's own execution when every operation takes its planned time (the
poll budget) and 2.9x that (just inside the 3x deadline), and the wave's (parent's) history and
largest state payload for 50 and 500 databases. Up to 50 databases every RDS operation ends after
its first poll (each child waits and polls every long step once, at speed 100 as in the 50-database
test); above 50 the children's RDS operations are instant (no Wait/Poll in the children). The
parent's history does not depend on the number of databases at all: its Distributed Map reads the
items from the evidence bucket and writes the results there, and the child executions' events are
not the parent's. Instant children are what makes a 500-database run affordable on a shared 2-core
machine; the run at 50 both ways (`--databases 50 50i`, `i` = instant children) shows the parent's
figures equal. A 500-database wave does not fit one wave's spec environment on AWS (4 KB of Lambda
environment) and must be split; here the environment is set directly, to measure the wave's
workflow alone. `--no-engine` skips the engine part, `--no-single` the one-database runs.

    .venv/bin/python benchmarks/db_poll_backoff.py [--no-engine] [--no-single] [--databases 50 500]
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


# ----------------------------------------------------------------------------- in the embedded AWS

HISTORY_QUOTA, PAYLOAD_QUOTA = 25_000, 256 * 1024


FIRST_POLL_FACTOR = 0.02  # an operation over by its first poll (due at 2.5 % of the planned time)


def engine_figures(database_counts: list[str], single: bool = True) -> None:
    """Run the wave in the embedded AWS and print what its executions' histories measure."""
    import os
    import tempfile

    os.environ.setdefault("TZ", "UTC")
    # 500 databases make about 2 manual snapshots each per region at once (source region: the source
    # snapshot and, for same-region databases, the shared copy). moto refuses more than 1000 per
    # account and region; AWS's default quota is 100 manual DB snapshots per region (adjustable), so
    # a real wave of that size needs a quota increase first (see docs/waves/db-snapshot-copy.md).
    os.environ.setdefault("MOTO_RDS_SNAPSHOT_LIMIT", "5000")
    from tests.conftest import RUNBOOKS
    from wavectl.runbook import load_runbook
    from wavectl.synth import synthesize

    runbook = load_runbook(RUNBOOKS)
    with tempfile.TemporaryDirectory() as out:
        assembly = Path(out) / "cdk.out"
        synthesize(runbook, assembly, bundle=False)
        print("\nIn the embedded AWS (history quota 25,000 events, payload quota 256 KiB):")
        print(f"{'run':<44}{'events':>8}{'waits':>7}{'of quota':>10}{'largest state':>15}{'real':>7}")
        singles = (("1 database, planned durations (poll budget)", 1.0),
                   ("1 database, 2.9x planned (3x deadline)", 2.9)) if single else ()  # fmt: skip
        for label, factor in singles:
            child, _ = _run(runbook, assembly, 1, factor)
            _row(label, child)
        for spec in database_counts:
            count = int(spec.rstrip("i"))
            instant = spec.endswith("i") or count > 50
            child, parent = _run(runbook, assembly, count, 0.0 if instant else FIRST_POLL_FACTOR)
            how = "instant children" if instant else "children poll once"
            _row(f"{count} dbs, {how}: the wave", parent)
            _row(f"{count} dbs, {how}: largest child", child)


def _run(runbook, assembly: Path, count: int, factor: float) -> tuple[dict, dict]:
    from tests.workflows.db_scale_support import (
        SPEED,
        deploy_wave,
        executions,
        history,
        largest_payload,
        wave_of,
    )
    from wavectl.local.engine import LocalCloud
    from wavectl.local.runner import run_wave

    # concurrent children that must each poll run at the 50-database test's speed (see SPEED there)
    speed = SPEED if count > 1 and factor > 0 else None
    with LocalCloud(runbook, assembly, speed=speed) as cloud:
        deploy_wave(cloud, wave_of(cloud, count), check_size=count <= 50)
        cloud.rds_durations.factor = factor
        run = run_wave(cloud, "orders-db", timeout=7200)
        if run.status != "SUCCEEDED":
            raise SystemExit(f"{count} databases at x{factor}: {run.status} {run.error}")
        figures = []
        for execution in executions(cloud):
            events = history(cloud, execution["executionArn"])
            figures.append({
                "parent": execution["executionArn"] == run.execution_arn,
                "events": len(events),
                "waits": sum(1 for e in events if e["type"] == "WaitStateEntered"),
                "payload": largest_payload(events),
                "real": run.real_seconds,
            })  # fmt: skip
    children = [f for f in figures if not f["parent"]]
    return max(children, key=lambda f: f["events"]), next(f for f in figures if f["parent"])


def _row(label: str, figures: dict) -> None:
    share = figures["events"] / HISTORY_QUOTA
    payload = f"{figures['payload'] / 1024:.1f} KiB ({figures['payload'] / PAYLOAD_QUOTA:.0%})"
    real = f"{figures['real']:.0f}s"
    print(f"{label:<44}{figures['events']:>8}{figures['waits']:>7}{share:>10.1%}{payload:>15}{real:>7}",
          flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
    aurora_size_effect()
    if "--no-engine" not in sys.argv:
        counts = sys.argv[sys.argv.index("--databases") + 1 :] if "--databases" in sys.argv else ["50", "500"]
        engine_figures([c for c in counts if not c.startswith("--")], single="--no-single" not in sys.argv)
