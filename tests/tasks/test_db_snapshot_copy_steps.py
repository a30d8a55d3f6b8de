"""The per-database steps of the db-snapshot-copy wave, run in order against moto (three accounts)."""

from __future__ import annotations

import hashlib
import json

import boto3
import pytest

from tasks.common.backoff import (
    DEADLINE_FACTOR,
    LATENCY_FRACTION,
    MIN_DEADLINE_SECONDS,
    POLL_BUDGET,
)
from tasks.common.errors import TaskFailed
from tasks.db_snapshot_copy import handler
from tasks.db_snapshot_copy.naming import STAGE_SHARED, STAGE_SOURCE, STAGE_TARGET
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


def kms_arn(account: str, region: str, alias: str) -> str:
    from wavectl.local.seeders.db_snapshot_copy import moto_session

    return moto_session(account, region).client("kms").describe_key(KeyId=alias)["KeyMetadata"]["Arn"]


def test_instance_is_copied_through_every_step_into_the_target_under_the_target_key(cloud, example_runbook):
    # Given the orders instance (eu-west-1 -> eu-west-1)
    driver = Driver(example_runbook)
    db = driver.item("orders")
    # When every step runs in order
    source_job = driver.wait(driver.call("create_snapshot", db))
    shared_job = driver.wait(driver.call("copy_snapshot", db))
    shared = driver.call("share", db)
    target_job = driver.wait(driver.call("copy_to_target", db, share=shared))
    restored_job = driver.wait(driver.call("restore", db))
    verification = driver.call("verify", db)
    # Then each intermediate snapshot is where it should be, under the right key
    names = {
        stage: run().snapshot_name("orders", stage) for stage in (STAGE_SOURCE, STAGE_SHARED, STAGE_TARGET)
    }
    assert [source_job["id"], shared_job["id"], target_job["id"]] == list(names.values())
    shared_snapshot = rds(SOURCE, "eu-west-1").describe_db_snapshots(DBSnapshotIdentifier=names[STAGE_SHARED])
    assert shared_snapshot["DBSnapshots"][0]["KmsKeyId"] == kms_arn(
        SOURCE, "eu-west-1", "alias/wavectl-share"
    )
    assert shared["shared_with"] == TARGET
    # And the restored instance in the target is encrypted with the target key, protected, tagged
    restored = rds(TARGET, "eu-west-1").describe_db_instances(DBInstanceIdentifier="orders")["DBInstances"][0]
    assert restored_job["ready"] and restored["KmsKeyId"] == kms_arn(TARGET, "eu-west-1", "alias/globex-rds")
    assert restored["DeletionProtection"] is True and restored["DBInstanceClass"] == "db.r6g.large"
    assert {"Key": "app", "Value": "acme-core"} in restored["TagList"]
    assert verification["ok"] and all(check["ok"] for check in verification["checks"])
    assert verification["queries"] == []  # this instance has none (instances need a verify hook)


def test_aurora_cluster_is_copied_cross_region_and_restored_with_its_instances(cloud, example_runbook):
    # Given the ledger cluster (eu-west-1 -> eu-central-1)
    driver = Driver(example_runbook)
    db = driver.item("ledger")
    # When it goes through every step
    record = driver.copy(db)
    # Then the cross-region leg happened in the source account, under the shared key of eu-central-1
    shared_name = run().snapshot_name("ledger", STAGE_SHARED)
    shared = rds(SOURCE, "eu-central-1").describe_db_cluster_snapshots(
        DBClusterSnapshotIdentifier=shared_name
    )
    assert shared["DBClusterSnapshots"][0]["KmsKeyId"] == kms_arn(
        SOURCE, "eu-central-1", "alias/wavectl-share"
    )
    # And the target cluster and both members exist in eu-central-1, under the target key
    target = rds(TARGET, "eu-central-1")
    cluster = target.describe_db_clusters(DBClusterIdentifier="ledger")["DBClusters"][0]
    assert cluster["KmsKeyId"] == kms_arn(TARGET, "eu-central-1", "alias/globex-rds")
    assert cluster["DeletionProtection"] is True and cluster["Engine"] == "aurora-postgresql"
    assert {m["DBInstanceIdentifier"] for m in cluster["DBClusterMembers"]} == {"ledger-1", "ledger-2"}
    assert record["status"] == "verified"  # the small result the wave keeps


def test_a_step_re_invoked_after_success_makes_nothing_twice(cloud, example_runbook):
    # Given the orders instance copied all the way to the target
    driver = Driver(example_runbook)
    db = driver.item("orders")
    driver.through_restore(db)
    before = {
        side: snapshots(account, "eu-west-1", "instance") for side, account in (("s", SOURCE), ("t", TARGET))
    }
    # When every step is invoked again (a Lambda retry after a lost response)
    again = driver.through_restore(db)
    # Then the same resources are found, and none is made twice
    after = {
        side: snapshots(account, "eu-west-1", "instance") for side, account in (("s", SOURCE), ("t", TARGET))
    }
    ids = {side: sorted(s["DBSnapshotIdentifier"] for s in found) for side, found in after.items()}
    assert ids == {side: sorted(s["DBSnapshotIdentifier"] for s in found) for side, found in before.items()}
    assert len(rds(TARGET, "eu-west-1").describe_db_instances()["DBInstances"]) == 1
    assert again["ready"] and again["id"] == "orders"


def test_aurora_restore_whose_responses_were_lost_finds_what_it_made(cloud, example_runbook, monkeypatch):
    # Given the ledger cluster copied to the target, ready to restore
    driver = Driver(example_runbook)
    db = driver.item("ledger")
    snapshot = driver.call("create_snapshot", db)
    driver.wait(snapshot)
    driver.wait(driver.call("copy_snapshot", db))
    driver.wait(driver.call("copy_to_target", db, share=driver.call("share", db)))
    # And RDS applies the restore and each member's creation, but their responses are lost and the
    # SDK sends them again (a read timeout)
    from botocore.client import BaseClient

    real, lost = BaseClient._make_api_call, []

    def lose_first_response(client, operation, params):
        if operation in ("RestoreDBClusterFromSnapshot", "CreateDBInstance"):
            real(client, operation, params)
            lost.append(operation)
        return real(client, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", lose_first_response)
    # When the restore step runs
    job = driver.wait(driver.call("restore", db))
    # Then the retries' refusals are taken for what they are: the cluster and both members this
    # execution made, once each
    assert lost == ["RestoreDBClusterFromSnapshot", "CreateDBInstance", "CreateDBInstance"]
    assert job["ready"] and job["id"] == "ledger"
    target = rds(TARGET, "eu-central-1")
    assert [c["DBClusterIdentifier"] for c in target.describe_db_clusters()["DBClusters"]] == ["ledger"]
    members = sorted(i["DBInstanceIdentifier"] for i in target.describe_db_instances()["DBInstances"])
    assert members == ["ledger-1", "ledger-2"]


def test_a_snapshot_name_taken_by_someone_else_is_not_adopted(cloud, example_runbook):
    # Given another execution's wave... no: a person made a snapshot with this execution's name
    name = run().snapshot_name("orders", STAGE_SOURCE)
    rds(SOURCE, "eu-west-1").create_db_snapshot(DBInstanceIdentifier="orders", DBSnapshotIdentifier=name)
    driver = Driver(example_runbook)
    # When the snapshot step runs
    with pytest.raises(TaskFailed) as error:
        driver.call("create_snapshot", driver.item("orders"))
    # Then it refuses rather than copying someone else's snapshot
    assert "was not made by execution" in str(error.value)


def test_snapshot_held_in_creating_is_polled_with_backoff_within_the_budget(cloud, example_runbook):
    # Given a source snapshot that moto keeps in `creating` until its expected duration has passed
    driver = Driver(example_runbook)
    db = driver.item("orders")
    job = driver.call("create_snapshot", db)
    snapshot = rds_backend(SOURCE, "eu-west-1").database_snapshots[job["id"]]
    snapshot.status = "creating"
    job = {**job, "ready": False}
    # When the wait loop polls (the Wait state's seconds are added up instead of slept)
    waits = []
    while not job["ready"]:
        waits.append(job["wait_seconds"])
        if sum(waits) >= job["expected_seconds"]:
            snapshot.status = "available"
        job = handler.poll({"execution": EXECUTION, "job": job}, None)
    # Then it was seen within 5% of the expected duration, in no more polls than the budget
    assert job["polls"] == len(waits) <= POLL_BUDGET
    assert max(waits) <= LATENCY_FRACTION * job["expected_seconds"]
    assert waits[0] < waits[1], "the first wait is the short one, then it backs off"
    assert job["waited_seconds"] - job["expected_seconds"] <= LATENCY_FRACTION * job["expected_seconds"]


def test_a_failed_snapshot_fails_the_step_with_a_named_error(cloud, example_runbook):
    # Given a source snapshot that RDS marks failed
    driver = Driver(example_runbook)
    job = driver.call("create_snapshot", driver.item("orders"))
    rds_backend(SOURCE, "eu-west-1").database_snapshots[job["id"]].status = "failed"
    # When it is polled
    with pytest.raises(TaskFailed) as error:
        handler.poll({"execution": EXECUTION, "job": {**job, "ready": False}}, None)
    # Then the wave gets Wavectl.TaskFailed saying which step and snapshot
    assert type(error.value).__name__ == "Wavectl.TaskFailed"
    assert "source-snapshot of orders" in str(error.value) and "'failed'" in str(error.value)


def test_a_snapshot_stuck_in_creating_fails_at_its_deadline_with_a_named_error(cloud, example_runbook):
    # Given a source snapshot that moto keeps in `creating` for good
    driver = Driver(example_runbook)
    job = driver.call("create_snapshot", driver.item("orders"))
    rds_backend(SOURCE, "eu-west-1").database_snapshots[job["id"]].status = "creating"
    job = {**job, "ready": False}
    deadline = job["deadline_seconds"]
    assert deadline == max(MIN_DEADLINE_SECONDS, DEADLINE_FACTOR * job["expected_seconds"])
    # When the wait loop polls it (the Wait state's seconds are added up instead of slept)
    waited, polls = 0, 0
    with pytest.raises(TaskFailed) as error:
        while True:
            waited += job["wait_seconds"]
            polls += 1
            job = handler.poll({"execution": EXECUTION, "job": job}, None)
            assert polls < 200, "the wait loop never gave up"
    # Then the poll on the deadline (the last wait ends on it) fails the step with Wavectl.TaskFailed,
    # which the Map's Catch routes to compensation
    assert type(error.value).__name__ == "Wavectl.TaskFailed"
    assert waited == deadline
    message = str(error.value)
    # naming the database, the operation, its status and how long it waited
    hours_minutes = f"{deadline // 3600}h {deadline % 3600 // 60:02d}m"
    assert message.startswith(
        f"source-snapshot of orders: snapshot {job['id']} is still 'creating' after {hours_minutes} "
        f"({polls} poll(s)), past its deadline of {hours_minutes}"
    )
    assert "the snapshot looks stuck" in message


def test_a_long_operation_gets_three_times_its_expected_duration(cloud, example_runbook):
    # Given a 2 TiB instance, whose snapshot is planned at well over the 1 h floor
    driver = Driver(example_runbook)
    db = {**driver.item("orders"), "size_gib": 2048}
    # When the snapshot starts
    job = driver.call("create_snapshot", db)
    # Then its deadline is three times the expected duration, and the first wait is still the short one
    assert job["deadline_seconds"] == DEADLINE_FACTOR * job["expected_seconds"] > MIN_DEADLINE_SECONDS
    assert job["wait_seconds"] < LATENCY_FRACTION * job["expected_seconds"]


def test_a_restore_rds_gives_up_on_fails_at_once(cloud, example_runbook):
    # Given the orders instance restored into the target, which RDS then marks incompatible-restore
    driver = Driver(example_runbook)
    db = driver.item("orders")
    driver.through_restore(db)
    restore = driver.call("restore", db)
    rds_backend(TARGET, "eu-west-1").databases["orders"].status = "incompatible-restore"
    # When it is polled the first time
    with pytest.raises(TaskFailed) as error:
        handler.poll({"execution": EXECUTION, "job": {**restore, "ready": False}}, None)
    # Then the step fails at once, without waiting for the deadline, saying which database and status
    assert type(error.value).__name__ == "Wavectl.TaskFailed"
    assert str(error.value).startswith("restore of orders: instance orders is 'incompatible-restore' after")
    assert "(1 poll(s)); RDS will not finish it" in str(error.value)


def test_cleanup_removes_intermediate_snapshots_and_the_share_and_evidence_is_written(cloud, example_runbook):
    # Given both databases copied and verified
    driver = Driver(example_runbook)
    items = driver.preflight()
    copies = [driver.copy(db) for db in items]
    # When the copies are summarised from the evidence bucket, and cleanup and evidence run
    summary = handler.summarise({"execution": EXECUTION, "items": driver.items_ref, "map_run": None}, None)
    report = handler.cleanup({"execution": EXECUTION, "databases": items}, None)
    evidence = handler.record_evidence(
        {"execution": EXECUTION, "databases": items, "copies": summary["copies"], "cleanup": report,
         "request": {"requested_by": "U01ALICE"}}, None,
    )  # fmt: skip
    # Then no snapshot of this execution is left anywhere, and the share went first
    for account, region, db_type in [(SOURCE, "eu-west-1", "instance"), (SOURCE, "eu-west-1", "cluster"),
                                     (SOURCE, "eu-central-1", "cluster"), (TARGET, "eu-west-1", "instance"),
                                     (TARGET, "eu-central-1", "cluster")]:  # fmt: skip
        assert snapshots(account, region, db_type) == []
    assert len(report["unshared"]) == 2 and report["left"] == []
    # And the restored databases stay
    assert rds(TARGET, "eu-central-1").describe_db_clusters(DBClusterIdentifier="ledger")["DBClusters"]
    # And the wave's evidence names the copies record by digest, which keeps each database's small
    # result (the same the child execution returned), naming the database's own record by digest
    s3 = boto3.client("s3", region_name="eu-west-1")
    record = json.loads(s3.get_object(Bucket=BUCKET, Key=evidence["key"])["Body"].read())
    assert record["outcome"] == "succeeded" and record["execution"] == EXECUTION
    assert record["copies"]["count"] == 2 and summary["count"] == 2 and summary["not_verified"] == 0
    copies_body = s3.get_object(Bucket=BUCKET, Key=record["copies"]["key"])["Body"].read()
    assert hashlib.sha256(copies_body).hexdigest() == record["copies"]["sha256"]
    assert json.loads(copies_body)["copies"] == copies
    small = next(c for c in copies if c["database"] == "orders")
    assert small["status"] == "verified" and set(small) == {
        "database", "status", "target_arn", "evidence_key", "evidence_sha256", "summary"}  # fmt: skip
    # And that record names snapshots, keys and the verification, and matches its digest
    body = s3.get_object(Bucket=BUCKET, Key=small["evidence_key"])["Body"].read()
    assert hashlib.sha256(body).hexdigest() == small["evidence_sha256"]
    orders = json.loads(body)
    assert orders["target"]["kms_key"] == kms_arn(TARGET, "eu-west-1", "alias/globex-rds")
    assert orders["verification"]["ok"] and orders["snapshots"]["target"].endswith(run().digest)
