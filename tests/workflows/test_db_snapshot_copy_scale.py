"""db-snapshot-copy at scale: 50 databases, each in its own child execution, under simulated RDS durations.

These are the slowest workflow tests (about a minute each on an idle 2-core machine: 50 child
executions, a few hundred Lambda invocations). Time is compressed; the Wait -> Poll loops really run.
"""

from __future__ import annotations

import pytest

from tasks.common.errors import TaskFailed
from tests.workflows.db_scale_support import (
    HISTORY_QUOTA_EVENTS,
    PAYLOAD_QUOTA_BYTES,
    deploy_wave,
    evidence_records,
    executions,
    history,
    largest_payload,
    tagged_resources,
    wave_of,
)
from wavectl.local.runner import run_wave

pytestmark = pytest.mark.slow  # the 50-database runs (see the module docstring)


def test_fifty_databases_succeed_within_the_history_and_payload_quotas(local_cloud):
    # Given orders-db with 50 databases, and RDS operations that take a tenth of their planned time
    # (each long step still waits and polls: the Wait -> Poll loop runs in the engine)
    wave = wave_of(local_cloud, 50)
    deploy_wave(local_cloud, wave)
    local_cloud.rds_durations.factor = 0.1

    # When the wave runs with its gates approved
    run = run_wave(local_cloud, "orders-db", timeout=900)

    # Then it succeeded, every database in its own child execution, each of which polled
    assert run.status == "SUCCEEDED", run.error
    children = [e for e in executions(local_cloud) if e["executionArn"] != run.execution_arn]
    assert len(children) == 50 and {c["status"] for c in children} == {"SUCCEEDED"}
    histories = {e["executionArn"]: history(local_cloud, e["executionArn"]) for e in executions(local_cloud)}
    for arn, events in histories.items():
        entered = [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]
        if arn != run.execution_arn:  # each of the four long steps waited and polled at least once
            assert {"Poll source snapshot", "Poll shared copy", "Poll target copy", "Poll restore"} <= set(
                entered
            )
    # And the largest history and the largest state payload stay under half of the AWS quotas
    largest_history = max(len(h) for h in histories.values())
    largest_state = max(largest_payload(h) for h in histories.values())
    assert largest_history < HISTORY_QUOTA_EVENTS // 2, largest_history
    assert largest_state < PAYLOAD_QUOTA_BYTES // 2, largest_state
    # And the wave's evidence names each database's own record by its digest
    name = run.execution_arn.rsplit(":", 1)[-1]
    records = evidence_records(local_cloud, name)
    assert len([k for k in records if k.startswith("databases/")]) == 50
    assert len(records["db-snapshot-copy-succeeded.json"]["copies"]) == 50
    parent = len(histories[run.execution_arn])
    print(f"\n50 databases: largest history {largest_history} events, largest state {largest_state} bytes, "
          f"parent history {parent} events, {run.real_seconds:.0f}s real")  # fmt: skip


@pytest.mark.xfail(
    strict=False,
    reason="issue 14 open: on the shared simulated clock fewer than 10 siblings are still restoring when "
    "database 37 fails; the compensation check itself is not what fails",
)
def test_a_failed_restore_while_siblings_restore_leaves_nothing_tagged_in_either_account(
    local_cloud, monkeypatch
):
    # Given 50 databases; restores take 1.5x their planned time, everything else a tenth, and RDS
    # ends database 37's restore early in `incompatible-restore`
    wave = wave_of(local_cloud, 50)
    deploy_wave(local_cloud, wave)
    durations = local_cloud.rds_durations
    durations.factor, durations.operation_factors = 0.1, {"restore": 1.5}
    durations.override("db-37", factor=0.05, operation="restore", fail_with="incompatible-restore")
    # (the test notes how many sibling restores are still running when the failure is seen)
    from tasks.db_snapshot_copy import handler

    real_poll, restoring_at_failure = handler.steps.poll, []

    def poll(estate, job):
        try:
            return real_poll(estate, job)
        except TaskFailed:
            if job["database"] == "db-37":
                restoring_at_failure.append(_restoring(local_cloud, exclude="db-37"))
            raise

    monkeypatch.setattr(handler.steps, "poll", poll)

    # When the wave runs
    run = run_wave(local_cloud, "orders-db", timeout=900)

    # Then it failed with the restore's named error, after at least 10 siblings were still restoring
    assert run.status == "FAILED"
    assert run.error.name == "Wavectl.TaskFailed" and "incompatible-restore" in run.error.message, run.error
    assert restoring_at_failure and restoring_at_failure[0] >= 10, restoring_at_failure
    # And compensation waited for every child: none is still running
    assert "RUNNING" not in {e["status"] for e in executions(local_cloud)}
    # And nothing tagged with the execution is left in the source or the target account
    name = run.execution_arn.rsplit(":", 1)[-1]
    assert tagged_resources(local_cloud, name) == []
    assert (
        evidence_records(local_cloud, name)["db-snapshot-copy-compensated.json"]["outcome"] == "compensated"
    )


def _restoring(cloud, exclude: str) -> int:
    count = 0
    for region in ("eu-west-1", "eu-central-1"):
        rds = cloud.target_session(region).client("rds")
        instances = rds.describe_db_instances()["DBInstances"]
        count += sum(
            1
            for i in instances
            if i["DBInstanceStatus"] == "creating" and i["DBInstanceIdentifier"] != exclude
        )
    return count
