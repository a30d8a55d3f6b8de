"""db-snapshot-copy at scale: 50 databases, each in its own child execution, under simulated RDS durations,
within Step Functions' history and payload quotas (issue 14).

Its own module so that pytest-xdist (`--dist loadfile`) runs it next to the 37th-database failure run
(test_db_snapshot_copy_scale_failure.py) on the other worker.

On the shared 2-core machine (2026-11-29, both modules side by side under xdist, load 14-18): 392 s
(the wave 245 s of it; 95 s more for the session's synth). Before (speed 10, inline Map, the whole
program deployed, one run alone at load 5-7): the failure run took 232 s.
"""

from __future__ import annotations

from tests.workflows.db_scale_support import (
    FIRST_POLL,
    HISTORY_QUOTA_EVENTS,
    PAYLOAD_QUOTA_BYTES,
    RUN_TIMEOUT_SECONDS,
    SPEED,
    deploy_wave,
    evidence_records,
    executions,
    history,
    largest_payload,
    wave_of,
)
from wavectl.local.runner import run_wave

LONG_STEPS = {"Poll source snapshot", "Poll shared copy", "Poll target copy", "Poll restore"}


def test_fifty_databases_succeed_within_the_history_and_payload_quotas(make_local_cloud):
    # Given orders-db with 50 databases, and RDS operations that take 2 % of their planned time
    # (each long step still waits and polls: the Wait -> Poll loop runs in the engine); only the
    # control plane and orders-db are deployed
    local_cloud = make_local_cloud(speed=SPEED, waves=("orders-db",))
    wave = wave_of(local_cloud, 50)
    deploy_wave(local_cloud, wave)
    local_cloud.rds_durations.factor = FIRST_POLL

    # When the wave runs with its gates approved
    run = run_wave(local_cloud, "orders-db", timeout=RUN_TIMEOUT_SECONDS)

    # Then it succeeded, every database in its own child execution, each of which polled every long step
    assert run.status == "SUCCEEDED", run.error
    children = [e for e in executions(local_cloud) if e["executionArn"] != run.execution_arn]
    assert len(children) == 50 and {c["status"] for c in children} == {"SUCCEEDED"}
    histories = {e["executionArn"]: history(local_cloud, e["executionArn"]) for e in executions(local_cloud)}
    for arn, events in histories.items():
        entered = {e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e}
        if arn != run.execution_arn:
            assert entered >= LONG_STEPS, (arn, LONG_STEPS - entered)
    # And the largest history and the largest state payload stay under half of the AWS quotas
    largest_history = max(len(h) for h in histories.values())
    largest_state = max(largest_payload(h) for h in histories.values())
    assert largest_history < HISTORY_QUOTA_EVENTS // 2, largest_history
    assert largest_state < PAYLOAD_QUOTA_BYTES // 2, largest_state
    # And the wave's state never carried the 50 items or results: the Map read its items from the
    # evidence bucket and wrote its results there, and its evidence names the copies record
    name = run.execution_arn.rsplit(":", 1)[-1]
    records = evidence_records(local_cloud, name)
    assert len([k for k in records if k.startswith("databases/")]) == len(records["databases.json"]) == 50
    assert records["db-snapshot-copy-succeeded.json"]["copies"]["count"] == 50
    assert {c["status"] for c in records["copies.json"]["copies"]} == {"verified"}
    parent = histories[run.execution_arn]
    print(f"\n50 databases: largest history {largest_history} events, largest state {largest_state} bytes, "
          f"parent history {len(parent)} events ({largest_payload(parent)} bytes at most), "
          f"{run.real_seconds:.0f}s real")  # fmt: skip
