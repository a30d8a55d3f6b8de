"""The orders-db wave (db-snapshot-copy) executed end to end in the embedded AWS."""

from __future__ import annotations

import hashlib
import json

from tasks.db_snapshot_copy.naming import TAG_EXECUTION
from tests.workflows.db_scale_support import evidence_records, tagged_resources
from wavectl.local.runner import run_wave


def rds(cloud, side: str, region: str):
    session = cloud.source_session(region) if side == "source" else cloud.target_session(region)
    return session.client("rds")


def key_arn(cloud, region: str, alias: str) -> str:
    return cloud.target_session(region).client("kms").describe_key(KeyId=alias)["KeyMetadata"]["Arn"]


def manual_snapshots(cloud, side: str, region: str, *, deleting_is_gone: bool = True) -> list[str]:
    """Manual snapshots still there (by default one RDS is already deleting counts as gone: the
    clean-up after acceptance asks once; compensation confirms, see `assert_target_clean...`)."""
    client = rds(cloud, side, region)
    instances = client.describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]
    clusters = client.describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"]
    listed = [(s["DBSnapshotIdentifier"], s["Status"]) for s in instances] + [
        (s["DBClusterSnapshotIdentifier"], s["Status"]) for s in clusters
    ]
    return [name for name, status in listed if not (deleting_is_gone and status == "deleting")]


def evidence(cloud, run) -> list[dict]:
    """The wave's own outcome records (each database's record is under `databases/`; the Map's item
    list and the copies record sit next to them)."""
    records = evidence_records(cloud, run.execution_arn.rsplit(":", 1)[-1])
    return [record for key, record in sorted(records.items()) if key.startswith("db-snapshot-copy-")]


def copies_of(cloud, run, record: dict) -> list[dict]:
    """The copies record the wave's record points to, checked against the digest it names."""
    records = evidence_records(cloud, run.execution_arn.rsplit(":", 1)[-1])
    name = record["copies"]["key"].rsplit("/", 1)[-1]
    body = json.dumps(records[name], indent=2, sort_keys=True).encode()
    assert hashlib.sha256(body).hexdigest() == record["copies"]["sha256"]
    return records[name]["copies"]


def data_api_answer(cloud, side: str, region: str, cluster: str, sql: str, count: int) -> None:
    """What moto's Data API answers `sql` on that cluster from now on (its results are per ARN + SQL)."""
    from moto.rdsdata.models import QueryResults, rdsdata_backends

    account = getattr(cloud.runbook.program.accounts, side).id
    arn = f"arn:aws:rds:{region}:{account}:cluster:{cluster}"
    rdsdata_backends[account][region].sql_results[(arn, sql)] = QueryResults(records=[[{"longValue": count}]])


ORDERS_SQL, JOURNAL_SQL = "select count(*) from orders", "select count(*) from journal_entries"


def assert_target_clean_and_source_untouched(cloud) -> None:
    """No database or snapshot left in the target, no snapshot in the source, source databases kept
    (compensation confirms its deletions: nothing is even listed as `deleting` any more)."""
    for region in ("eu-west-1", "eu-central-1"):
        target = rds(cloud, "target", region)
        assert target.describe_db_instances()["DBInstances"] == []
        assert target.describe_db_clusters()["DBClusters"] == []
        assert manual_snapshots(cloud, "target", region, deleting_is_gone=False) == []
        assert manual_snapshots(cloud, "source", region, deleting_is_gone=False) == []
    source = rds(cloud, "source", "eu-west-1")
    assert {c["DBClusterIdentifier"] for c in source.describe_db_clusters()["DBClusters"]} == {
        "orders",
        "ledger",
    }


def reject_gate(cloud, monkeypatch, gate: str) -> None:
    """Answer gates as the demo does, except that the first approver rejects `gate`."""
    from wavectl.local import gates

    approve_or_reject = gates.answer_pending_gates

    def answer(cloud_, runbook, execution_arn):
        approve_or_reject(cloud_, runbook, execution_arn, reject_gates={gate})

    monkeypatch.setattr(gates, "answer_pending_gates", answer)


def test_orders_db_wave_copies_both_databases_under_the_target_key_and_cleans_up(local_cloud):
    # Given the seeded estate: orders (Aurora, eu-west-1) and ledger (Aurora, eu-west-1 -> eu-central-1)

    # When the wave runs with its gates approved
    run = run_wave(local_cloud, "orders-db")

    # Then it succeeded and the target holds both databases, under the target key, deletion-protected
    assert run.status == "SUCCEEDED", run.error
    orders = rds(local_cloud, "target", "eu-west-1").describe_db_clusters(DBClusterIdentifier="orders")
    ledger = rds(local_cloud, "target", "eu-central-1").describe_db_clusters(DBClusterIdentifier="ledger")
    assert orders["DBClusters"][0]["KmsKeyId"] == key_arn(local_cloud, "eu-west-1", "alias/globex-rds")
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
    assert {c["database"]: c["status"] for c in copies_of(local_cloud, run, record)} == {
        "orders": "verified",
        "ledger": "verified",
    }
    assert "Approval: accept-restored-databases" in run.states


def test_failure_at_restore_compensates_and_fails_with_the_named_error(local_cloud, monkeypatch):
    # Given the restore step fails for ledger (orders may already be restored)
    from tasks.common.errors import TaskFailed
    from tasks.db_snapshot_copy import handler, steps

    real_restore = steps.start_restore

    def failing_restore(estate, run, db):
        if db["id"] == "ledger":
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
    assert "Summarise the copies" in run.states and "Compensate" in run.states  # after every copy
    for region in ("eu-west-1", "eu-central-1"):
        target = rds(local_cloud, "target", region)
        restored = target.describe_db_instances()["DBInstances"] + target.describe_db_clusters()["DBClusters"]
        assert [r for r in restored if any(t["Key"] == TAG_EXECUTION for t in r.get("TagList", []))] == []
        assert manual_snapshots(local_cloud, "target", region, deleting_is_gone=False) == []
        assert manual_snapshots(local_cloud, "source", region, deleting_is_gone=False) == []


def test_rejection_while_rds_is_still_busy_compensates_over_several_rounds_until_the_target_is_clean(
    local_cloud, monkeypatch
):
    # Given approvers who reject the restored databases, and RDS still busy with an orders member
    # and a ledger member when compensation starts (the test holds their states)
    from moto.rds.models import rds_backends

    from tasks.db_snapshot_copy import handler

    reject_gate(local_cloud, monkeypatch, "accept-restored-databases")
    target = local_cloud.runbook.program.accounts.target.id
    real_compensate = handler.cleanup_logic.compensate
    rounds = []

    def compensate_while_rds_is_busy(estate, run, databases):
        busy = [rds_backends[target]["eu-west-1"].databases.get("orders-1"),
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
    assert len(rounds) >= 2 and rounds[0]["pending"] and rounds[-1]["pending"] == []
    # And the target holds no database or snapshot, the source keeps its databases and no snapshot
    assert_target_clean_and_source_untouched(local_cloud)
    (record,) = evidence(local_cloud, run)
    assert record["outcome"] == "compensated" and record["compensation"]["round"] == len(rounds)


def test_compensation_that_cannot_finish_fails_as_compensation_failed_naming_what_is_left(
    local_cloud, monkeypatch
):
    # Given a rejection at the acceptance gate and an orders member RDS never lets go of
    from moto.rds.models import rds_backends

    from tasks.db_snapshot_copy import cleanup, handler

    reject_gate(local_cloud, monkeypatch, "accept-restored-databases")
    monkeypatch.setattr(cleanup, "MAX_COMPENSATION_ROUNDS", 3)
    target = local_cloud.runbook.program.accounts.target.id
    real_compensate = handler.cleanup_logic.compensate

    def compensate_while_stuck(estate, run, databases):
        rds_backends[target]["eu-west-1"].databases["orders-1"].status = "creating"
        return real_compensate(estate, run, databases)

    monkeypatch.setattr(handler.cleanup_logic, "compensate", compensate_while_stuck)

    # When the wave runs
    run = run_wave(local_cloud, "orders-db")

    # Then it fails as Wavectl.CompensationFailed; the cause has the rejection and what is left
    assert run.status == "FAILED" and run.error.name == "Wavectl.CompensationFailed"
    assert "compensation incomplete after 3 round(s)" in run.error.message
    assert "target instance orders-1" in run.error.message and "rejected" in run.error.message.lower()
    # And an evidence record of the failed compensation says so too, after the failure report ran
    records = {r["outcome"]: r for r in evidence(local_cloud, run)}
    assert records["compensation-failed"]["compensation"]["status"] == "incomplete"
    assert "Report compensation failure" in run.states
    # And with only 3 rounds, what RDS was still deleting is named as left too (deletes take minutes)
    assert "target cluster ledger" in run.error.message


def test_a_compensation_that_crashes_ends_as_compensation_failed_with_evidence(local_cloud, monkeypatch):
    # Given a rejection at the start gate and a compensate task that crashes
    from tasks.db_snapshot_copy import handler

    reject_gate(local_cloud, monkeypatch, "start-copy")

    def crash(estate, run, databases):
        raise RuntimeError("target account unreachable")

    monkeypatch.setattr(handler.cleanup_logic, "compensate", crash)

    # When the wave runs
    run = run_wave(local_cloud, "orders-db")

    # Then the execution ends as Wavectl.CompensationFailed, not with the rejection alone
    assert run.status == "FAILED" and run.error.name == "Wavectl.CompensationFailed", run.error
    assert (
        "compensation itself failed" in run.error.message
        and "target account unreachable" in run.error.message
    )
    assert "Report compensation failure" in run.states
    (record,) = [r for r in evidence(local_cloud, run) if r["outcome"] == "compensation-failed"]
    assert record["error"]["Error"] == "Wavectl.Rejected"


def test_approvers_see_the_verify_query_results_in_the_acceptance_gate(local_cloud):
    # Given 7 orders and 1042 journal entries at snapshot time and after the restore
    data_api_answer(local_cloud, "source", "eu-west-1", "orders", ORDERS_SQL, 7)
    data_api_answer(local_cloud, "target", "eu-west-1", "orders", ORDERS_SQL, 7)
    data_api_answer(local_cloud, "source", "eu-west-1", "ledger", JOURNAL_SQL, 1042)
    data_api_answer(local_cloud, "target", "eu-central-1", "ledger", JOURNAL_SQL, 1042)

    # When the wave runs with its gates approved
    run = run_wave(local_cloud, "orders-db")

    # Then it succeeded, and the acceptance request in Slack shows both queries' numbers
    assert run.status == "SUCCEEDED", run.error
    messages = [json.dumps(m) for m in local_cloud.slack.messages()]
    asked = [m for m in messages if "accept-restored-databases" in m]
    assert any("journal entries: source at snapshot 1042 = target 1042" in m for m in asked), asked
    assert any("order count: source at snapshot 7 = target 7" in m for m in asked), asked


def test_a_source_that_changes_after_its_snapshot_still_verifies(local_cloud, monkeypatch):
    # Given 1042 journal entries when ledger's snapshot is taken, 1050 on the live source by the time
    # the restore is verified, and the restore holding the snapshot's 1042
    from tasks.db_snapshot_copy import handler

    data_api_answer(local_cloud, "source", "eu-west-1", "ledger", JOURNAL_SQL, 1042)
    data_api_answer(local_cloud, "target", "eu-central-1", "ledger", JOURNAL_SQL, 1042)
    real_share = handler.steps.share

    def share_then_the_source_moves_on(estate, run, db):
        data_api_answer(local_cloud, "source", "eu-west-1", "ledger", JOURNAL_SQL, 1050)
        return real_share(estate, run, db)

    monkeypatch.setattr(handler.steps, "share", share_then_the_source_moves_on)

    # When the wave runs
    run = run_wave(local_cloud, "orders-db")

    # Then it succeeded: the target is compared with the number of the snapshot's point in time
    assert run.status == "SUCCEEDED", run.error
    asked = [json.dumps(m) for m in local_cloud.slack.messages() if "accept-restored" in json.dumps(m)]
    assert any("journal entries: source at snapshot 1042 = target 1042" in m for m in asked), asked


def test_a_target_missing_rows_fails_the_wave_with_verification_failed_and_compensates(local_cloud):
    # Given the restored ledger would be missing a journal entry
    data_api_answer(local_cloud, "source", "eu-west-1", "ledger", JOURNAL_SQL, 1042)
    data_api_answer(local_cloud, "target", "eu-central-1", "ledger", JOURNAL_SQL, 1041)

    # When the wave runs
    run = run_wave(local_cloud, "orders-db")

    # Then it failed with the named verification error naming the query and both values, after compensating
    assert run.status == "FAILED" and run.error.name == "Wavectl.VerificationFailed", run.error
    assert "query journal entries: source '1042', target '1041'" in run.error.message
    assert tagged_resources(local_cloud, run.execution_arn.rsplit(":", 1)[-1]) == []


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
    assert target.describe_db_clusters()["DBClusters"] == []
