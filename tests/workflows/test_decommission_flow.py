"""The decommission-acme wave executed end to end in the embedded AWS, over the seeded legacy estate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tasks.contracts import ABORT_ACTION, ABORT_GATE, APPROVAL_GATE, APPROVAL_STATUS
from wavectl import approvals
from wavectl.local import estate_decommission as legacy
from wavectl.local.accounts import account_session
from wavectl.local.runner import run_wave

WAVE = "decommission-acme"
SOURCE, GLOBEX = "222222222222", "333333333333"
SCOPE_TAG = {"wavectl:decommission": "acme-legacy"}


@pytest.fixture(autouse=True)
def dependencies_done(monkeypatch):
    """decommission-acme depends on api-dns and payments-dual-run: count them as done (the guard's
    dependency rule has its own tests), so each test runs this wave alone."""
    from tasks.frame import guard

    monkeypatch.setattr(guard, "check_dependencies", lambda sfn, depends_on: None)


def client(service: str, region: str = "eu-west-1", account: str = SOURCE):
    return account_session(account, region).client(service)


def in_scope(cloud) -> dict[str, str]:
    return cloud.estate[WAVE]["in_scope"]


def exists(arn: str) -> bool:
    """Whether the resource behind `arn` is still there (the task code's own describe, in the source)."""
    from tasks.decommission import resources

    return resources.describe(lambda service, region: client(service, region), arn) is not None


def on_gate_approved(monkeypatch, action) -> list[str]:
    """Answer gates as the demo does; once the decommission gate is approved, run `action(cloud)` once."""
    from wavectl.local import gates

    answer, done = gates.answer_pending_gates, []

    def answer_then_act(cloud, runbook, execution_arn, **kwargs):
        answer(cloud, runbook, execution_arn, **kwargs)
        if done:
            return
        for record in approvals.execution_records(
            cloud.session, runbook.approvals_table_name(), execution_arn
        ):
            if record.get(APPROVAL_GATE) == ABORT_GATE and record.get(APPROVAL_STATUS) == "approved":
                done.append(str(action(cloud)))

    monkeypatch.setattr(gates, "answer_pending_gates", answer_then_act)
    return done


def test_decommission_retains_then_deletes_exactly_the_approved_estate(local_cloud, monkeypatch):
    # Given the seeded legacy estate: in scope (databases, buckets, Lambdas in two regions, an instance,
    # the old load balancer, a table, the weighted api record), a protected bucket, out-of-scope resources
    targets = in_scope(local_cloud)
    started = datetime.now(UTC)
    # And someone tags the KYC Lambda (out of scope) into scope right after the decommission gate
    kyc = client("lambda").get_function(FunctionName="acme-kyc-check")["Configuration"]["FunctionArn"]
    on_gate_approved(monkeypatch, lambda cloud: legacy.tag_resource(account_session, SOURCE, kyc, SCOPE_TAG))

    # When the wave runs with its gates approved (the 7-day cool-off compressed)
    run = run_wave(local_cloud, WAVE)

    # Then it succeeded through both gates and the cool-off, and every in-scope resource is gone
    assert run.status == "SUCCEEDED", run.error
    assert {"Approval: decommission", "Cool-off: wait", "Approval: delete"} <= set(run.states)
    assert [arn for arn in targets.values() if exists(arn)] == []
    # And the protected and out-of-scope resources are untouched
    assert client("s3").head_bucket(Bucket=f"acme-audit-trail-{SOURCE}")
    assert client("s3").head_bucket(Bucket=f"acme-ops-scratch-{SOURCE}")
    # And the KYC Lambda tagged in after approval is left untouched and reported
    assert client("lambda").get_function(FunctionName="acme-kyc-check")
    left = {
        "id": kyc,
        "type": "lambda:function",
        "name": "acme-kyc-check",
        "why": "appeared in scope after approval; not deleted",
    }
    assert run.output["decommission"]["left"] == [left]
    # And the payments (7 years) and the reports (5 years) are kept under COMPLIANCE lock until now + period
    for bucket, years in (("globex-retention-eu-payments", 7), ("globex-retention-eu-personal", 5)):
        copies = client("s3", account=GLOBEX).list_objects_v2(Bucket=bucket)["Contents"]
        assert copies
        for copy in copies:
            head = client("s3", account=GLOBEX).head_object(Bucket=bucket, Key=copy["Key"])
            until = head["ObjectLockRetainUntilDate"]
            assert head["ObjectLockMode"] == "COMPLIANCE" and until.year == started.year + years
            assert abs(until.replace(year=started.year) - started) < timedelta(hours=1)
    # And the final database snapshots are in the Globex account under its key
    rds = client("rds", account=GLOBEX)
    kept = [
        s["DBSnapshotIdentifier"] for s in rds.describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]
    ]
    kept += [
        s["DBClusterSnapshotIdentifier"]
        for s in rds.describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"]
    ]
    assert any("orders" in name for name in kept) and any("ledger" in name for name in kept)
    # And the counts for status.json are in the output
    counts = run.output["decommission"]["counts"]
    assert counts == {
        "in_scope": len(targets),
        "retained": 4,  # final snapshots of orders and ledger, the old payments and the reports bucket
        "disabled": len(targets),
        "deleted": len(targets),
        "left": 1,
    }
    # And status.json shows them for the wave, spelled out in its outcome line
    from wavectl.status import build_status

    entry = next(
        w for w in build_status(local_cloud.session, local_cloud.runbook)["waves"] if w["wave"] == WAVE
    )
    assert entry["counts"] == counts
    assert entry["outcome"].startswith(f"in scope {len(targets)} · retained 4")


def test_traffic_in_the_lookback_stops_the_wave_before_anything_changes(local_cloud):
    # Given the statement renderer was invoked 5 times two days ago
    renderer = in_scope(local_cloud)["renderer"]
    when = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=2)
    legacy.put_usage(account_session, SOURCE, renderer, 5.0, at=when)

    # When the wave runs
    run = run_wave(local_cloud, WAVE)

    # Then it fails at the usage proof naming the function and its metric, before any gate or change
    assert run.status == "FAILED" and run.error.name == "Wavectl.PreflightFailed"
    assert "acme-statement-renderer is in use: AWS/Lambda Invocations (Sum) = 5" in run.error.message
    assert "Approval: decommission" not in run.states and "Retain" not in run.states
    assert all(exists(arn) for arn in in_scope(local_cloud).values())
    assert "Concurrency" not in client("lambda").get_function(FunctionName="acme-statement-renderer")


def test_abort_during_the_cool_off_restores_every_disabled_resource(local_cloud, monkeypatch):
    # Given the reports bucket has its own policy and the renderer a reserved concurrency of 3
    from wavectl.cli_approvals import _decide_locally

    s3, lam = client("s3"), client("lambda")
    bucket = f"acme-legacy-reports-{SOURCE}"
    s3.put_bucket_policy(
        Bucket=bucket,
        Policy='{"Version": "2012-10-17", "Statement": [{"Sid": "Reports", '
        '"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::222222222222:root"}, '
        f'"Action": "s3:GetObject", "Resource": "arn:aws:s3:::{bucket}/*"}}]}}',
    )
    policy_before = s3.get_bucket_policy(Bucket=bucket)["Policy"]
    lam.put_function_concurrency(FunctionName="acme-statement-renderer", ReservedConcurrentExecutions=3)

    # When carol runs `wavectl abort decommission-acme` once the decommission gate is approved
    def abort(cloud):
        execution_arn, approval_id = approvals.running_gate(cloud.session, cloud.runbook, WAVE, ABORT_GATE)
        return _decide_locally(
            cloud.session, cloud.runbook, approval_id, ABORT_ACTION, "FX still reads it", "carol"
        )

    aborted = on_gate_approved(monkeypatch, abort)
    run = run_wave(local_cloud, WAVE)

    # Then the wave failed Wavectl.Aborted after restoring: instance running, the same policy byte for
    # byte, concurrency 3 again, the database available, the listener back; nothing was deleted
    assert aborted and aborted[0].startswith("(200"), aborted
    assert run.status == "FAILED" and run.error.name == "Wavectl.Aborted", run.error
    assert "by U03CAROL" in run.error.message and "Restore after abort" in run.states
    assert "Approval: delete" not in run.states
    instance = in_scope(local_cloud)["batch"].rsplit("/", 1)[-1]
    state = client("ec2").describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0][
        "State"
    ]
    assert state["Name"] in ("pending", "running")
    assert s3.get_bucket_policy(Bucket=bucket)["Policy"] == policy_before
    assert (
        lam.get_function_concurrency(FunctionName="acme-statement-renderer")["ReservedConcurrentExecutions"]
        == 3
    )
    # orders is an Aurora cluster in the example (issue 14: its verify query runs through the Data API)
    orders = client("rds").describe_db_clusters(DBClusterIdentifier="orders")["DBClusters"][0]
    assert orders["Status"] == "available"
    assert client("elbv2").describe_listeners(LoadBalancerArn=in_scope(local_cloud)["api_lb"])["Listeners"]
    assert all(exists(arn) for arn in in_scope(local_cloud).values())


def test_a_retention_copy_with_a_wrong_checksum_stops_the_wave_and_nothing_is_deleted(
    local_cloud, monkeypatch
):
    # Given a fault: one retention copy arrives with different bytes (and their own checksum)
    from tasks.decommission import retention

    real_put = retention.put_retained

    def corrupting(s3, bucket, key, body, checksum):
        if key.endswith("annual.pdf") or key.endswith("report-1.pdf"):
            body = body + b" corrupted in transit"
            checksum = retention.sha256_b64(body)
        real_put(s3, bucket, key, body, checksum)

    monkeypatch.setattr(retention, "put_retained", corrupting)

    # When the wave runs
    run = run_wave(local_cloud, WAVE)

    # Then it fails at verification, before any gate; nothing was disabled and nothing deleted
    assert run.status == "FAILED" and run.error.name == "Wavectl.VerificationFailed", run.error
    assert "checksum" in run.error.message and "report-1.pdf" in run.error.message
    assert "Approval: decommission" not in run.states and "Disable" not in run.states
    assert all(exists(arn) for arn in in_scope(local_cloud).values())
