"""The control plane's operating parts: the evidence archive rule and function, and the dashboard."""

from __future__ import annotations

import json
from pathlib import Path

from tests.stacks.templates import resources_of_type, template


def _function(tmpl: dict, name_suffix: str) -> tuple[str, dict]:
    return next(
        (logical_id, r)
        for logical_id, r in tmpl["Resources"].items()
        if r["Type"] == "AWS::Lambda::Function"
        and str(r["Properties"].get("FunctionName", "")).endswith(name_suffix)
    )


def test_every_execution_end_of_the_program_runs_the_evidence_archive(cloud_assembly: Path):
    # Given the control plane
    tmpl = template(cloud_assembly, "ControlPlane")
    archive_id, archive = _function(tmpl, "-evidence-archive")

    # When its EventBridge rules are read
    rules = [
        r["Properties"]
        for r in resources_of_type(tmpl, "AWS::Events::Rule")
        if "EventPattern" in r["Properties"]
    ]
    (rule,) = [r for r in rules if r["EventPattern"].get("source") == ["aws.states"]]

    # Then Step Functions status changes of the program's state machines that ended go to the archive
    pattern = rule["EventPattern"]
    assert pattern["detail-type"] == ["Step Functions Execution Status Change"]
    assert sorted(pattern["detail"]["status"]) == ["ABORTED", "FAILED", "SUCCEEDED", "TIMED_OUT"]
    assert "stateMachine:acme-to-globex-" in json.dumps(pattern["detail"]["stateMachineArn"])
    assert rule["Targets"][0]["Arn"] == {"Fn::GetAtt": [archive_id, "Arn"]}
    assert archive["Properties"]["Handler"] == "tasks.evidence_archive.handler.handler"


def test_evidence_archive_writes_only_under_archive_and_reads_no_more_than_it_copies(cloud_assembly: Path):
    tmpl = template(cloud_assembly, "ControlPlane")
    statements = [
        s
        for policy in resources_of_type(tmpl, "AWS::IAM::Policy")
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if s.get("Sid") in ("WriteTheBundleOnce", "ReadTaskEvidence", "ReadEndedExecutions")
    ]
    by_sid = {s["Sid"]: s for s in statements}
    assert by_sid["WriteTheBundleOnce"]["Action"] == ["s3:PutObject", "s3:PutObjectRetention"]
    assert "/archive/*" in json.dumps(by_sid["WriteTheBundleOnce"]["Resource"])
    assert "s3:DeleteObject" not in json.dumps(statements)
    assert ":execution:acme-to-globex-*:*" in json.dumps(by_sid["ReadEndedExecutions"]["Resource"])


def test_dashboard_shows_executions_by_state_per_wave_and_pending_approvals(cloud_assembly: Path):
    tmpl = template(cloud_assembly, "ControlPlane")
    (dashboard,) = resources_of_type(tmpl, "AWS::CloudWatch::Dashboard")
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for wave in ("orders-db", "api-dns", "payments-dual-run", "decommission-acme"):
        assert f"{wave}: executions by state" in body
    for metric in ("ExecutionsSucceeded", "ExecutionsFailed", "ExecutionsAborted", "ExecutionsTimedOut"):
        assert metric in body
    assert "PendingApprovals" in body and "OldestPendingApprovalAgeSeconds" in body
