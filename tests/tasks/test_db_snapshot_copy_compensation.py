"""Compensation of the db-snapshot-copy wave: only what this execution made goes, the source stays."""

from __future__ import annotations

from tasks.db_snapshot_copy import handler
from tasks.db_snapshot_copy.naming import STAGE_SOURCE, Run
from tests.tasks.db_copy_support import (  # noqa: F401  (cloud_fixture provides `cloud`)
    EXECUTION,
    SOURCE,
    TARGET,
    Driver,
    cloud_fixture,
    rds,
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


def compensate(items=None) -> dict:
    event = {"execution": EXECUTION, "error": {"Error": "Wavectl.TaskFailed", "Cause": "restore failed"}}
    if items is not None:
        event["databases"] = items
    return handler.compensate(event, None)


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
