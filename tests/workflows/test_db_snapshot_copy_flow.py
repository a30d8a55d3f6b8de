"""The orders-db wave (db-snapshot-copy) executed end to end in the embedded AWS."""

from __future__ import annotations

import json

from tasks.db_snapshot_copy.naming import TAG_EXECUTION
from wavectl.local.runner import run_wave


def rds(cloud, side: str, region: str):
    session = cloud.source_session(region) if side == "source" else cloud.target_session(region)
    return session.client("rds")


def key_arn(cloud, region: str, alias: str) -> str:
    return cloud.target_session(region).client("kms").describe_key(KeyId=alias)["KeyMetadata"]["Arn"]


def manual_snapshots(cloud, side: str, region: str) -> list[str]:
    client = rds(cloud, side, region)
    instances = client.describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]
    clusters = client.describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"]
    return [s["DBSnapshotIdentifier"] for s in instances] + [
        s["DBClusterSnapshotIdentifier"] for s in clusters
    ]


def evidence(cloud, run) -> list[dict]:
    s3 = cloud.session.client("s3")
    bucket = next(b["Name"] for b in s3.list_buckets()["Buckets"] if "evidence" in b["Name"])
    name = run.execution_arn.rsplit(":", 1)[-1]
    keys = [
        o["Key"]
        for o in s3.list_objects_v2(Bucket=bucket, Prefix=f"waves/orders-db/{name}/").get("Contents", [])
    ]
    return [json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read()) for key in keys]


def assert_target_clean_and_source_untouched(cloud) -> None:
    """No database or snapshot left in the target, no snapshot in the source, source databases kept."""
    for region in ("eu-west-1", "eu-central-1"):
        target = rds(cloud, "target", region)
        assert target.describe_db_instances()["DBInstances"] == []
        assert target.describe_db_clusters()["DBClusters"] == []
        assert manual_snapshots(cloud, "target", region) == []
        assert manual_snapshots(cloud, "source", region) == []
    source = rds(cloud, "source", "eu-west-1")
    assert source.describe_db_instances(DBInstanceIdentifier="orders")["DBInstances"]
    assert source.describe_db_clusters(DBClusterIdentifier="ledger")["DBClusters"]


def reject_gate(cloud, monkeypatch, gate: str) -> None:
    """Answer gates as the demo does, except that the first approver rejects `gate`."""
    from wavectl.local import gates

    approve_or_reject = gates.answer_pending_gates

    def answer(cloud_, runbook, execution_arn):
        approve_or_reject(cloud_, runbook, execution_arn, reject_gates={gate})

    monkeypatch.setattr(gates, "answer_pending_gates", answer)


def test_orders_db_wave_copies_both_databases_under_the_target_key_and_cleans_up(local_cloud):
    # Given the seeded estate: orders (instance, eu-west-1) and ledger (Aurora, eu-west-1 -> eu-central-1)

    # When the wave runs with its gates approved
    run = run_wave(local_cloud, "orders-db")

    # Then it succeeded and the target holds both databases, under the target key, deletion-protected
    assert run.status == "SUCCEEDED", run.error
    orders = rds(local_cloud, "target", "eu-west-1").describe_db_instances(DBInstanceIdentifier="orders")
    ledger = rds(local_cloud, "target", "eu-central-1").describe_db_clusters(DBClusterIdentifier="ledger")
    assert orders["DBInstances"][0]["KmsKeyId"] == key_arn(local_cloud, "eu-west-1", "alias/globex-rds")
    assert ledger["DBClusters"][0]["KmsKeyId"] == key_arn(local_cloud, "eu-central-1", "alias/globex-rds")
    assert (
        ledger["DBClusters"][0]["DeletionProtection"]
        and len(ledger["DBClusters"][0]["DBClusterMembers"]) == 2
    )
    # And no intermediate snapshot is left in either account, so nothing is shared any more
    for side, region in [("source", "eu-west-1"), ("source", "eu-central-1"), ("target", "eu-west-1"),
                         ("target", "eu-central-1")]:  # fmt: skip
        assert manual_snapshots(local_cloud, side, region) == []
    # And the evidence record names both databases, their keys and their verification
    (record,) = evidence(local_cloud, run)
    assert record["outcome"] == "succeeded"
    assert {d["database"]: d["verification"]["ok"] for d in record["databases"]} == {
        "orders": True,
        "ledger": True,
    }
    assert "Approval: accept-restored-databases" in run.states


def test_failure_at_restore_compensates_and_fails_with_the_named_error(local_cloud, monkeypatch):
    # Given the restore step fails for the Aurora cluster (the instance may already be restored)
    from tasks.common.errors import TaskFailed
    from tasks.db_snapshot_copy import handler, steps

    real_restore = steps.start_restore

    def failing_restore(estate, run, db):
        if db["type"] == "cluster":
            raise TaskFailed("restore of ledger refused: insufficient capacity for db.r6g.large")
        return real_restore(estate, run, db)

    monkeypatch.setattr(handler.steps, "start_restore", failing_restore)

    # When the wave runs
    run = run_wave(local_cloud, "orders-db")

    # Then it failed with the restore's named error, after compensating
    assert run.status == "FAILED"
    assert run.error.name == "Wavectl.TaskFailed" and "insufficient capacity" in run.error.message
    assert "Compensate" in run.states
    # And the target has no stray database or snapshot, the source keeps its databases and no snapshot
    assert_target_clean_and_source_untouched(local_cloud)
    (record,) = evidence(local_cloud, run)
    assert record["outcome"] == "compensated" and record["error"]["Error"] == "Wavectl.TaskFailed"


def test_rejection_at_the_acceptance_gate_removes_the_restored_databases(local_cloud, monkeypatch):
    # Given approvers who approve the start but reject the restored databases
    reject_gate(local_cloud, monkeypatch, "accept-restored-databases")

    # When the wave runs
    run = run_wave(local_cloud, "orders-db")

    # Then it failed as rejected, and compensation removed everything this execution made
    assert run.status == "FAILED" and run.error.name == "Wavectl.Rejected"
    assert "Verify restored database" in run.states and "Compensate" in run.states
    for region in ("eu-west-1", "eu-central-1"):
        target = rds(local_cloud, "target", region)
        restored = target.describe_db_instances()["DBInstances"] + target.describe_db_clusters()["DBClusters"]
        assert [r for r in restored if any(t["Key"] == TAG_EXECUTION for t in r.get("TagList", []))] == []
        assert manual_snapshots(local_cloud, "target", region) == []
        assert manual_snapshots(local_cloud, "source", region) == []


def test_rejection_while_rds_is_still_busy_compensates_over_several_rounds_until_the_target_is_clean(
    local_cloud, monkeypatch
):
    # Given approvers who reject the restored databases, and RDS still busy with the orders instance
    # and a ledger member when compensation starts (moto is instant: the test holds their states)
    from moto.rds.models import rds_backends

    from tasks.db_snapshot_copy import handler

    reject_gate(local_cloud, monkeypatch, "accept-restored-databases")
    target = local_cloud.runbook.program.accounts.target.id
    real_compensate = handler.cleanup_logic.compensate
    rounds = []

    def compensate_while_rds_is_busy(estate, run, databases):
        busy = [rds_backends[target]["eu-west-1"].databases.get("orders"),
                rds_backends[target]["eu-central-1"].databases.get("ledger-1")]  # fmt: skip
        for resource in filter(None, busy):
            resource.status = "creating" if not rounds else "available"
        rounds.append(real_compensate(estate, run, databases))
        return rounds[-1]

    monkeypatch.setattr(handler.cleanup_logic, "compensate", compensate_while_rds_is_busy)

    # When the wave runs
    run = run_wave(local_cloud, "orders-db")

    # Then it failed as rejected, after a first round that left the busy resources pending and a later
    # round that removed them
    assert run.status == "FAILED" and run.error.name == "Wavectl.Rejected"
    assert "Wait for deletions" in run.states and "Compensate again" in run.states
    assert len(rounds) == 2 and rounds[0]["pending"] and rounds[1]["pending"] == []
    # And the target holds no database or snapshot, the source keeps its databases and no snapshot
    assert_target_clean_and_source_untouched(local_cloud)
    (record,) = evidence(local_cloud, run)
    assert record["outcome"] == "compensated" and record["compensation"]["round"] == 2


def test_compensation_that_cannot_finish_fails_with_the_caught_error_naming_what_is_left(
    local_cloud, monkeypatch
):
    # Given a rejection at the acceptance gate and an orders instance RDS never lets go of
    from moto.rds.models import rds_backends

    from tasks.db_snapshot_copy import cleanup, handler

    reject_gate(local_cloud, monkeypatch, "accept-restored-databases")
    monkeypatch.setattr(cleanup, "MAX_COMPENSATION_ROUNDS", 3)
    target = local_cloud.runbook.program.accounts.target.id
    real_compensate = handler.cleanup_logic.compensate

    def compensate_while_stuck(estate, run, databases):
        rds_backends[target]["eu-west-1"].databases["orders"].status = "creating"
        return real_compensate(estate, run, databases)

    monkeypatch.setattr(handler.cleanup_logic, "compensate", compensate_while_stuck)

    # When the wave runs
    run = run_wave(local_cloud, "orders-db")

    # Then it fails with the rejection, and the cause says compensation is incomplete and what is left
    assert run.status == "FAILED" and run.error.name == "Wavectl.Rejected"
    assert "compensation incomplete after 3 round(s)" in run.error.message
    assert "target instance orders" in run.error.message
    (record,) = evidence(local_cloud, run)
    assert record["compensation"]["status"] == "incomplete"
    # And everything else this execution made is gone
    assert rds(local_cloud, "target", "eu-central-1").describe_db_clusters()["DBClusters"] == []
    for region in ("eu-west-1", "eu-central-1"):
        assert manual_snapshots(local_cloud, "target", region) == []


def data_api_answers(account: str, region: str, count: int) -> None:
    """What moto's Data API answers the next statement in that account and region (its moto-api)."""
    import requests

    results = [{"records": [[{"longValue": count}]]}]
    response = requests.post(
        "http://motoapi.amazonaws.com/moto-api/static/rds-data/statement-results",
        json={"account_id": account, "region": region, "results": results},
    )
    assert response.status_code == 201


def test_approvers_see_the_verify_query_results_in_the_acceptance_gate(local_cloud):
    # Given 1042 journal entries in the ledger cluster, on the source and after the restore
    accounts = local_cloud.runbook.program.accounts
    data_api_answers(accounts.source.id, "eu-west-1", 1042)
    data_api_answers(accounts.target.id, "eu-central-1", 1042)

    # When the wave runs with its gates approved
    run = run_wave(local_cloud, "orders-db")

    # Then it succeeded, and the acceptance request in Slack shows both counts (and why orders' did not run)
    assert run.status == "SUCCEEDED", run.error
    messages = [json.dumps(m) for m in local_cloud.slack.messages()]
    asked = [m for m in messages if "accept-restored-databases" in m]
    assert any("journal entries: source 1042 = target 1042" in m for m in asked), asked
    assert any("Data API serves Aurora clusters only" in m for m in asked)


def test_a_verify_count_mismatch_fails_the_wave_with_verification_failed_and_compensates(local_cloud):
    # Given the restored ledger would be missing a journal entry
    accounts = local_cloud.runbook.program.accounts
    data_api_answers(accounts.source.id, "eu-west-1", 1042)
    data_api_answers(accounts.target.id, "eu-central-1", 1041)

    # When the wave runs
    run = run_wave(local_cloud, "orders-db")

    # Then it failed with the named verification error naming the query and both values, after compensating
    assert run.status == "FAILED" and run.error.name == "Wavectl.VerificationFailed"
    assert "query journal entries: source '1042', target '1041'" in run.error.message
    assert rds(local_cloud, "target", "eu-central-1").describe_db_clusters()["DBClusters"] == []


def test_dry_run_runs_preflight_and_changes_nothing(local_cloud):
    # Given the seeded estate
    # When the wave is started with dry_run: true
    run = run_wave(local_cloud, "orders-db", extra_input={"dry_run": True})
    # Then it succeeds after preflight, without asking anyone to approve
    assert run.status == "SUCCEEDED", run.error
    assert not [m for m in local_cloud.slack.messages() if "start-copy" in json.dumps(m)]
    # and no snapshot or database was made in either account
    assert manual_snapshots(local_cloud, "source", "eu-west-1") == []
    assert manual_snapshots(local_cloud, "target", "eu-central-1") == []
    target = rds(local_cloud, "target", "eu-west-1")
    assert target.describe_db_instances()["DBInstances"] == []
