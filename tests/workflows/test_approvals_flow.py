"""Approval gates in the embedded engine: the real ASL, request and callback functions, local Slack."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.workflows.approvals_support import gate_cloud
from wavectl import approvals
from wavectl.local.gates import click

WAVE = "api-dns"  # a single-gate wave: gate "go" (2 of platform), then a Pass (approvals_support)
GATE_WAIT_SECONDS = 30.0


@pytest.fixture(scope="module")
def cloud(tmp_path_factory) -> Iterator[object]:
    # x600: the 2 h gate stays open 12 real seconds: time for the clicks even on a loaded CI machine
    with gate_cloud(tmp_path_factory, speed="600") as local:
        yield local


def _start(cloud, requested_by: str = "U01ALICE") -> str:
    from wavectl.local.runner import start_wave

    return start_wave(cloud.session, cloud.runbook, WAVE, requested_by=requested_by)


def _pending_gate(cloud, execution_arn: str) -> dict:
    deadline = time.monotonic() + GATE_WAIT_SECONDS
    while time.monotonic() < deadline:
        entries = approvals.decisions_for_execution(
            cloud.session, cloud.runbook.approvals_table_name(), execution_arn
        )
        if entries and entries[0]["decision"] == "pending":
            return entries[0]
        time.sleep(0.05)
    raise AssertionError(f"no pending gate for {execution_arn}")


def _finished(cloud, execution_arn: str) -> dict:
    sfn = cloud.session.client("stepfunctions")
    deadline = time.monotonic() + GATE_WAIT_SECONDS
    while time.monotonic() < deadline:
        described = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.05)
    raise AssertionError(f"{execution_arn} still running")


def _status(cloud, execution_arn: str) -> dict:
    (entry,) = approvals.decisions_for_execution(
        cloud.session, cloud.runbook.approvals_table_name(), execution_arn
    )
    return entry


def test_two_of_three_gate_waits_for_the_second_distinct_approver(cloud):
    # Given alice started the wave and its gate is waiting in Slack
    execution = _start(cloud)
    gate = _pending_gate(cloud, execution)
    # When bob approves (twice) the execution still waits
    click(cloud, gate["approval_id"], "U02BOB", "approve")
    click(cloud, gate["approval_id"], "U02BOB", "approve")
    time.sleep(0.3)
    assert (
        cloud.session.client("stepfunctions").describe_execution(executionArn=execution)["status"]
        == "RUNNING"
    )
    # And alice, the requester, cannot be the second approver
    click(cloud, gate["approval_id"], "U01ALICE", "approve")
    assert _status(cloud, execution)["approvers"] == ["U02BOB"]
    # When carol approves
    click(cloud, gate["approval_id"], "U03CAROL", "approve")
    # Then the wave resumes and succeeds, and status lists both approvers
    assert _finished(cloud, execution)["status"] == "SUCCEEDED"
    entry = _status(cloud, execution)
    assert (entry["decision"], entry["approvers"]) == ("approved", ["U02BOB", "U03CAROL"])


def test_reject_fails_the_execution_with_wavectl_rejected_and_names_the_rejecter(cloud):
    # Given a waiting gate
    execution = _start(cloud)
    gate = _pending_gate(cloud, execution)
    # When carol rejects
    click(cloud, gate["approval_id"], "U03CAROL", "reject")
    # Then the execution fails through the gate's Catch with Wavectl.Rejected
    described = _finished(cloud, execution)
    assert described["status"] == "FAILED"
    assert described.get("error") == "Wavectl.Rejected"
    # And status names the rejecter
    entry = _status(cloud, execution)
    assert (entry["decision"], entry["rejected_by"]) == ("rejected", "U03CAROL")


def test_unanswered_gate_times_out_as_a_distinct_outcome(cloud):
    # Given a gate nobody answers (2h timeout, compressed to seconds)
    execution = _start(cloud)
    _pending_gate(cloud, execution)
    # When its TimeoutSeconds pass
    described = _finished(cloud, execution)
    # Then the execution fails with Wavectl.ApprovalTimedOut and status says timed_out
    assert described["status"] == "FAILED"
    assert described.get("error") == "Wavectl.ApprovalTimedOut"
    assert _status(cloud, execution)["decision"] == "timed_out"
    timed_out = [m for m in cloud.slack.messages() if "Timed out" in m.get("text", "")]
    assert timed_out


def test_scheduled_sweeps_count_an_open_gate_and_remind_after_remind_after(cloud):
    # Given a gate nobody answered yet (remind_after 30m)
    from datetime import UTC, datetime, timedelta

    from tasks.contracts import APPROVAL_METRICS_TASK, APPROVAL_REMINDERS_TASK

    execution = _start(cloud)
    gate = _pending_gate(cloud, execution)
    # When the scheduled functions run: the reminder sweep as if 40 minutes had passed, the metrics now
    later = (datetime.now(UTC) + timedelta(minutes=40)).isoformat()
    function = cloud.runbook.control_function_name
    swept = cloud.invoke_function(function(APPROVAL_REMINDERS_TASK), {"now": later})
    metrics = cloud.invoke_function(function(APPROVAL_METRICS_TASK), {})
    # Then the sweep saw the open gate and reminded its approvers once, and the metrics count it
    assert swept["pending"] >= 1 and swept["reminded"] >= 1, swept
    assert metrics["pending"].get(WAVE, 0) >= 1, metrics
    click(cloud, gate["approval_id"], "U02BOB", "reject")  # the wave ends here
    assert _finished(cloud, execution)["status"] == "FAILED"


def test_demo_answerer_approves_through_signed_clicks(cloud):
    # Given a waiting gate
    from wavectl.local.gates import answer_pending_gates

    execution = _start(cloud, requested_by="wavectl-local")
    _pending_gate(cloud, execution)
    # When the demo answers pending gates (called repeatedly, as the runner does)
    answer_pending_gates(cloud, cloud.runbook, execution)
    answer_pending_gates(cloud, cloud.runbook, execution)
    # Then the wave succeeds with the first two platform approvers on record
    assert _finished(cloud, execution)["status"] == "SUCCEEDED"
    assert _status(cloud, execution)["approvers"] == ["U01ALICE", "U02BOB"]


def test_cli_fallback_decides_as_the_callers_iam_identity(cloud):
    # Given a waiting gate alice requested
    from wavectl.cli_approvals import _decide_locally

    execution = _start(cloud)
    gate = _pending_gate(cloud, execution)
    # When alice (the requester) tries to approve from the CLI, then bob and carol approve
    own = _decide_locally(cloud.session, cloud.runbook, gate["approval_id"], "approve", None, "alice")
    bob = _decide_locally(cloud.session, cloud.runbook, gate["approval_id"], "approve", "Slack down", "bob")
    carol = _decide_locally(cloud.session, cloud.runbook, gate["approval_id"], "approve", None, "carol")
    # Then alice is refused (four eyes), and the wave resumes on bob's and carol's IAM-identified votes
    assert own[0] == 403 and "four eyes" in own[1]["message"]
    assert (bob[0], carol[0]) == (200, 200)
    assert _finished(cloud, execution)["status"] == "SUCCEEDED"
    assert _status(cloud, execution)["approvers"] == ["U02BOB", "U03CAROL"]


def test_starter_without_requested_by_is_known_from_cloudtrail_before_the_gate_opens(cloud):
    # Given alice starts the wave under her approver identity and leaves requested_by out
    import json

    from wavectl.cli_approvals import _approver_session
    from wavectl.local.gates import click

    alice = _approver_session(cloud.session, cloud.runbook, "alice")
    machine = cloud.runbook.state_machine_arn(WAVE) + ":live"
    execution = alice.client("stepfunctions").start_execution(stateMachineArn=machine, input=json.dumps({}))[
        "executionArn"
    ]
    # When the gate opens
    gate = _pending_gate(cloud, execution)
    # Then its requester is alice's authenticated identity (the embedded CloudTrail's StartExecution
    # event, resolved by the frame before the gate), and her own click is refused (four eyes)
    assert gate["requester_source"] == "cloudtrail"
    assert gate["requester"].endswith(":assumed-role/WavectlApprover/alice")
    click(cloud, gate["approval_id"], "U01ALICE", "approve")
    assert _status(cloud, execution)["approvers"] == []
    click(cloud, gate["approval_id"], "U02BOB", "reject")
    assert _finished(cloud, execution)["status"] == "FAILED"


def test_approval_functions_call_only_what_their_roles_grant(cloud):
    # Given every AWS call the approval functions made in the runs above (success and failure paths),
    # recorded by the embedded runtime's botocore hook
    from tasks.contracts import APPROVAL_CALLBACK_TASK, APPROVAL_REQUEST_TASK
    from tests.stacks.templates import granted_actions
    from wavectl.local import calls

    recorded = calls.recorded()
    for task in (APPROVAL_REQUEST_TASK, APPROVAL_CALLBACK_TASK):
        name = cloud.runbook.control_function_name(task)
        called = set(recorded.get(name, {}))
        assert called, f"no calls recorded for {name}"
        # Then each called action is granted by the function's role in the synthesised template
        difference = calls.compare(called, granted_actions(cloud.assembly, name))
        assert difference.called_not_granted == [], (name, difference)
