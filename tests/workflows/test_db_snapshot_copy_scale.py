"""db-snapshot-copy at scale: 50 databases, each in its own child execution, under simulated RDS durations.

These are the slowest workflow tests: 50 child executions and 500-700 Lambda invocations each. On
the shared 2-core machine (load 13-19, 2026-11-29): the success run 342 s (233 s of it the wave,
part of it real waiting at speed 10), the failure run 767 s; about 100 s of CPU each plus the
session's synth. Time is compressed; the Wait -> Poll loops really run.
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

# RDS operations take 2 % of their planned time: over by the first poll (due at 2.5 %), so each long
# step still waits and polls once, without the dozens of polls per database a longer run costs here.
FIRST_POLL = 0.02
# Simulated time runs 10x, not the fast mode's 3600x: the shared clock takes each wait's end, and in
# fast mode the waits of 16 concurrent children (milliseconds each) come one after another and add
# up, so an operation of a few simulated minutes can end within the very task that started it.
SPEED = 10


def test_fifty_databases_succeed_within_the_history_and_payload_quotas(make_local_cloud):
    # Given orders-db with 50 databases, and RDS operations that take 2 % of their planned time
    # (each long step still waits and polls once: the Wait -> Poll loop runs in the engine), at
    # speed 10 (see SPEED)
    local_cloud = make_local_cloud(speed=SPEED)
    wave = wave_of(local_cloud, 50)
    deploy_wave(local_cloud, wave)
    local_cloud.rds_durations.factor = FIRST_POLL

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


def test_a_failed_restore_while_siblings_restore_leaves_nothing_tagged_in_either_account(
    make_local_cloud, monkeypatch
):
    # Given 50 databases copied 16 at a time, every operation over at its first poll except restores:
    # databases 22-36 and 38-50 restore (up to 2.9x their planned time) until database 37's restore
    # has ended in `incompatible-restore` (at 0.1x); 1-21 restore fast, so 37 starts as soon as they
    # are done, with 22-36 restoring. Time runs 10x: a shared clock compressed further would let the
    # siblings' restores end while 37 is still in its first steps (concurrent waits add up in it).
    local_cloud = make_local_cloud(speed=SPEED)
    wave = wave_of(local_cloud, 50)
    deploy_wave(local_cloud, wave)
    durations = local_cloud.rds_durations
    durations.factor, durations.operation_factors = FIRST_POLL, {"restore": 2.9}
    for number in range(1, 22):
        durations.override(f"db-{number:02d}", factor=FIRST_POLL, operation="restore")
    durations.override("db-37", factor=0.1, operation="restore", fail_with="incompatible-restore")
    from tasks.db_snapshot_copy import handler

    real_poll, restoring_at_failure = handler.steps.poll, []

    def poll(estate, job):  # counts the sibling restores running when the failure is seen, then ends them
        try:
            return real_poll(estate, job)
        except TaskFailed:
            if job["database"] == "db-37" and not restoring_at_failure:
                restoring_at_failure.append(_restoring(local_cloud, exclude="db-37"))
                durations.operation_factors = {}
                durations.finish()
            raise

    monkeypatch.setattr(handler.steps, "poll", poll)

    # When the wave runs
    run = run_wave(local_cloud, "orders-db", timeout=900)

    # Then it failed with the restore's named error, seen while at least 10 siblings were restoring
    assert run.status == "FAILED", run.error
    assert run.error.name == "Wavectl.TaskFailed" and "incompatible-restore" in run.error.message, run.error
    assert len(restoring_at_failure) == 1 and restoring_at_failure[0] >= 10, restoring_at_failure
    # And compensation waited for every child: none is still running
    assert "RUNNING" not in {e["status"] for e in executions(local_cloud)}
    # And the accounts hold nothing tagged with the execution, not even something RDS is still deleting
    name = run.execution_arn.rsplit(":", 1)[-1]
    assert tagged_resources(local_cloud, name) == []
    record = evidence_records(local_cloud, name)["db-snapshot-copy-compensated.json"]
    assert record["outcome"] == "compensated" and record["compensation"]["status"] == "done"
    assert record["compensation"]["deleting"] == [] and record["compensation"]["pending"] == []
    rounds = record["compensation"]["round"]
    print(f"\n50 databases, 37 failing: {restoring_at_failure[0]} siblings restoring at the failure, "
          f"{rounds} compensation round(s), {run.real_seconds:.0f}s real")  # fmt: skip


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
