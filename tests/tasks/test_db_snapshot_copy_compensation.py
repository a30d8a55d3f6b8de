"""Compensation of the db-snapshot-copy wave: only what this execution made goes, the source stays."""

from __future__ import annotations

import json

import boto3

from tasks.db_snapshot_copy import cleanup, handler
from tasks.db_snapshot_copy.naming import STAGE_SOURCE, STAGE_TARGET, Run
from tests.tasks.db_copy_support import (
    BUCKET,
    EXECUTION,
    SOURCE,
    TARGET,
    Driver,
    rds,
    rds_backend,
    run,
    snapshots,
)


def target_databases() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for region in ("eu-west-1", "eu-central-1"):
        client = rds(TARGET, region)
        found[region] = sorted(
            [i["DBInstanceIdentifier"] for i in client.describe_db_instances()["DBInstances"]]
            + [c["DBClusterIdentifier"] for c in client.describe_db_clusters()["DBClusters"]]
        )
    return found


def compensate(items=None, previous=None) -> dict:
    event = {"execution": EXECUTION, "error": {"Error": "Wavectl.TaskFailed", "Cause": "restore failed"}}
    if items is not None:
        event["databases"] = items
    if previous is not None:
        event["previous"] = previous
    return handler.compensate(event, None)


def compensate_until_finished(on_round=None) -> list[dict]:
    """Call compensate as the workflow does: again while it says in-progress (waits not slept)."""
    rounds = [compensate()]
    while rounds[-1]["status"] == cleanup.STATUS_IN_PROGRESS:
        if on_round:
            on_round(len(rounds))
        rounds.append(compensate(previous=rounds[-1]))
    return rounds


def evidence_record(key: str) -> dict:
    body = boto3.client("s3", region_name="eu-west-1").get_object(Bucket=BUCKET, Key=key)["Body"]
    return json.loads(body.read())


def test_compensation_after_restore_leaves_no_stray_snapshot_or_database_in_the_target(
    cloud, example_runbook
):
    # Given both databases restored into the target (the failure comes after restore)
    driver = Driver(example_runbook)
    for db in driver.preflight():
        driver.through_restore(db)
    # When the wave compensates
    report = compensate()
    # Then the target holds no database and no snapshot of this execution
    assert target_databases() == {"eu-west-1": [], "eu-central-1": []}
    for region, db_type in [("eu-west-1", "instance"), ("eu-central-1", "cluster")]:
        assert snapshots(TARGET, region, db_type) == []
    # And the source is untouched: its databases stay, none of this execution's snapshots is left or shared
    source = rds(SOURCE, "eu-west-1")
    assert source.describe_db_instances(DBInstanceIdentifier="orders")["DBInstances"][0]["DBInstanceStatus"]
    assert source.describe_db_clusters(DBClusterIdentifier="ledger")["DBClusters"]
    assert (
        snapshots(SOURCE, "eu-west-1", "instance") == []
        and snapshots(SOURCE, "eu-central-1", "cluster") == []
    )
    assert len(report["unshared"]) == 2 and report["left"] == [] and report["evidence_key"]


def test_compensation_never_deletes_what_another_execution_or_a_person_made(cloud, example_runbook):
    # Given a person's own snapshot of orders, and another execution's copy in flight
    source = rds(SOURCE, "eu-west-1")
    source.create_db_snapshot(DBInstanceIdentifier="orders", DBSnapshotIdentifier="orders-before-migration")
    other = Driver(example_runbook, execution="another-run")
    other.wait(other.call("create_snapshot", other.item("orders")))
    # When this execution compensates (it made nothing yet)
    report = compensate()
    # Then both snapshots are still there
    names = {s["DBSnapshotIdentifier"] for s in snapshots(SOURCE, "eu-west-1", "instance")}
    assert names == {"orders-before-migration", _name("another-run")}
    assert report["deleted"] == []


def _name(execution: str) -> str:
    other = Run(program=run().program, wave=run().wave, execution=execution)
    return other.snapshot_name("orders", STAGE_SOURCE)


def test_compensation_keeps_a_target_database_this_execution_did_not_create(cloud, example_runbook):
    # Given the target already has an `orders` instance someone else made (preflight would refuse it;
    # here compensation is called anyway, e.g. after a failure in the start gate)
    target = rds(TARGET, "eu-west-1")
    target.create_db_instance(
        DBInstanceIdentifier="orders", DBInstanceClass="db.t4g.micro", Engine="postgres",
        MasterUsername="globex", MasterUserPassword="not-a-real-password-2", AllocatedStorage=20,
    )  # fmt: skip
    # When this execution compensates
    report = compensate()
    # Then the instance stays, and the report says why it was skipped
    assert "orders" in target_databases()["eu-west-1"]
    assert any("not made by this execution" in s for s in report["skipped"])


def test_compensation_waits_for_resources_rds_is_still_busy_with_and_removes_them_in_a_later_round(
    cloud, example_runbook
):
    # Given both databases restored, but RDS still `creating` the orders instance, one ledger member
    # and the orders target snapshot (moto finishes at once: the test holds them in those states)
    driver = Driver(example_runbook)
    for db in driver.preflight():
        driver.through_restore(db)
    target_west, target_central = rds_backend(TARGET, "eu-west-1"), rds_backend(TARGET, "eu-central-1")
    busy = [target_west.databases["orders"], target_central.databases["ledger-1"],
            target_west.database_snapshots[run().snapshot_name("orders", STAGE_TARGET)]]  # fmt: skip
    for resource in busy:
        resource.status = "creating"

    def rds_finishes_after_two_rounds(completed: int) -> None:
        if completed == 2:
            for resource in busy:
                resource.status = "available"

    # When the wave compensates, round after round, as long as the task says in-progress
    rounds = compensate_until_finished(rds_finishes_after_two_rounds)

    # Then the first round deleted what it could and reported the busy resources as pending, not left
    first = rounds[0]
    assert first["status"] == "in-progress" and first["left"] == [] and first["wait_seconds"] > 0
    assert any("target instance orders" in p and "'creating'" in p for p in first["pending"])
    assert any("target cluster ledger" in p and "ledger-1" in p for p in first["pending"])
    assert "target instance ledger-2" in first["deleted"]
    # And a later round removed them: three rounds, waits backing off, nothing pending or left
    assert [r["status"] for r in rounds] == ["in-progress", "in-progress", "done"]
    assert rounds[0]["wait_seconds"] < rounds[1]["wait_seconds"]
    assert rounds[-1]["pending"] == [] and rounds[-1]["left"] == []
    # And the target ends with no database and no snapshot of this execution; the source is untouched
    assert target_databases() == {"eu-west-1": [], "eu-central-1": []}
    places = [(TARGET, "eu-west-1", "instance"), (TARGET, "eu-central-1", "cluster"),
              (SOURCE, "eu-west-1", "instance"), (SOURCE, "eu-central-1", "cluster")]  # fmt: skip
    for account, region, db_type in places:
        assert snapshots(account, region, db_type) == []
    assert rds(SOURCE, "eu-west-1").describe_db_instances(DBInstanceIdentifier="orders")["DBInstances"]
    assert rds(SOURCE, "eu-west-1").describe_db_clusters(DBClusterIdentifier="ledger")["DBClusters"]
    # And one evidence record, written by the final round, lists everything every round deleted
    assert "evidence_key" not in rounds[0] and "evidence_key" not in rounds[1]
    record = evidence_record(rounds[-1]["evidence_key"])
    deleted = record["compensation"]["deleted"]
    assert {"target instance orders", "target instance ledger-1", "target cluster ledger"} <= set(deleted)
    assert record["compensation"]["round"] == 3


def test_compensation_gives_up_after_the_round_bound_and_says_what_is_left(
    cloud, example_runbook, monkeypatch
):
    # Given the orders instance restored and RDS never letting go of it (stuck `creating`)
    monkeypatch.setattr(cleanup, "MAX_COMPENSATION_ROUNDS", 3)
    driver = Driver(example_runbook)
    driver.through_restore(driver.item("orders"))
    rds_backend(TARGET, "eu-west-1").databases["orders"].status = "creating"
    # When the wave compensates round after round
    rounds = compensate_until_finished()
    # Then it stops at the bound, and the cause the wave fails with names the original error and what is left
    assert len(rounds) == 3 and rounds[-1]["status"] == "incomplete"
    cause = rounds[-1]["cause"]
    assert cause.startswith("restore failed") and "compensation incomplete after 3 round(s)" in cause
    assert "target instance orders" in cause
    # And the evidence record says so too, while everything else this execution made is gone
    record = evidence_record(rounds[-1]["evidence_key"])
    assert any("target instance orders" in p for p in record["compensation"]["pending"])
    assert (
        snapshots(TARGET, "eu-west-1", "instance") == [] and snapshots(SOURCE, "eu-west-1", "instance") == []
    )


def test_compensation_is_done_only_once_rds_no_longer_lists_what_it_deleted(
    cloud, example_runbook, monkeypatch
):
    # Given RDS that keeps a deleted instance or snapshot listed as `deleting` for a few minutes
    # (the embedded AWS's simulated durations, on a clock the test moves), and orders restored
    from wavectl.local.rds_durations import DELETE_SECONDS, RdsDurations, patches

    clock = [0.0]
    durations = RdsDurations(now=lambda: clock[0])
    for target, attribute, replacement in patches(durations):
        monkeypatch.setattr(target, attribute, replacement, raising=False)
    driver = Driver(example_runbook)
    driver.through_restore(driver.item("orders"))
    durations.start()

    # When compensation runs a first round
    first = compensate()
    # Then it asked RDS to delete the instance but does not call that done: RDS still lists it
    assert "target instance orders" in first["deleted"] and "target instance orders" in first["deleting"]
    assert first["status"] == "in-progress" and "evidence_key" not in first

    # When RDS has finished deleting and compensation runs again
    clock[0] += max(DELETE_SECONDS.values())
    second = compensate(previous=first)
    # Then that round finds nothing of the execution listed any more, and only then is it done
    assert second["status"] == "done" and second["deleting"] == [] and second["pending"] == []
    assert target_databases()["eu-west-1"] == []
    assert (
        snapshots(TARGET, "eu-west-1", "instance") == [] and snapshots(SOURCE, "eu-west-1", "instance") == []
    )
    assert "target instance orders" in evidence_record(second["evidence_key"])["compensation"]["deleted"]
