"""The Slack callback: signatures, votes, four eyes, group membership, rejection."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

from tasks.approvals.store import approvers_of
from tests.tasks.approvals_support import (
    TOKEN_MARK,
)


def test_callback_accepts_a_signature_computed_as_slack_documents_it(world):
    # Given an open 2-of-3 gate requested by alice
    approval = world.open_gate()
    # When bob clicks Approve (signed with the signing secret)
    response = world.click(approval, "U02BOB")
    # Then the click is accepted and counted, and the execution is not resumed yet
    assert response["statusCode"] == 200
    assert approvers_of(world.record(approval)) == ["U02BOB"]
    assert world.sfn.calls == []


def test_callback_refuses_wrong_missing_and_stale_signatures_with_401(world):
    # Given an open gate
    approval = world.open_gate()
    # When requests arrive with a wrong secret, without signature headers, or signed 6 minutes ago
    wrong = world.click(approval, "U02BOB", secret="not-the-signing-secret")
    missing = world.click(approval, "U02BOB", headers={"Content-Type": "application/x-www-form-urlencoded"})
    stale = world.click(approval, "U02BOB", age_seconds=6 * 60)
    # Then each gets 401 and no vote is recorded
    assert [wrong["statusCode"], missing["statusCode"], stale["statusCode"]] == [401, 401, 401]
    assert approvers_of(world.record(approval)) == []


def test_callback_replay_of_an_accepted_request_has_no_second_effect(world):
    # Given bob's accepted approval request
    approval = world.open_gate(required=1)
    from tests.tasks.approvals_support import interaction_event

    event = interaction_event(approval, "U02BOB", "approve", world.slack)
    from tasks.approvals import callback

    assert callback.handler(event, None)["statusCode"] == 200
    # When the very same signed request is sent again
    replay = callback.handler(event, None)
    # Then it is refused and the task result was sent once
    assert replay["statusCode"] == 401
    assert [kind for kind, _ in world.sfn.calls] == ["success"]


def test_two_of_three_gate_resumes_on_the_second_distinct_approver(world):
    # Given a 2-of-3 gate requested by alice
    approval = world.open_gate()
    # When bob approves, bob approves again, then carol approves
    world.click(approval, "U02BOB")
    world.click(approval, "U02BOB")
    assert world.sfn.calls == []
    world.click(approval, "U03CAROL")
    # Then exactly one SendTaskSuccess carries the decision and both distinct approvers
    assert len(world.sfn.calls) == 1
    kind, call = world.sfn.calls[0]
    output = json.loads(call["output"])
    assert kind == "success"
    assert output["decision"] == "approved"
    assert output["approvers"] == ["U02BOB", "U03CAROL"]
    assert output["decided_at"]
    # And the Slack message says who approved, without buttons
    message = world.slack.messages("C0MIGRATION")[-1]
    assert "Approved by <@U02BOB>, <@U03CAROL>" in message["text"]
    assert not [b for b in message["blocks"] if b["type"] == "actions"]


def test_distinct_approvers_racing_past_the_required_count_resume_once_and_extra_votes_are_late(world):
    # Given a 2-of-3 gate requested by someone outside the group, so alice, bob and carol may all approve
    approval = world.open_gate(requested_by="U04DAVE")
    approvers = ["U01ALICE", "U02BOB", "U03CAROL"]
    # When all three click at once, each several times (every click a freshly signed request)
    with ThreadPoolExecutor(max_workers=12) as pool:
        responses = list(pool.map(lambda i: world.click(approval, approvers[i % 3]), range(12)))
    # Then every click was answered, and exactly one SendTaskSuccess resumed the wave
    assert all(r["statusCode"] == 200 for r in responses)
    assert [kind for kind, _ in world.sfn.calls] == ["success"]
    sent = json.loads(world.sfn.calls[0][1]["output"])
    # And it carries at least the required two distinct approvers, all group members, each once
    assert len(sent["approvers"]) == len(set(sent["approvers"])) >= 2
    assert set(sent["approvers"]) <= set(approvers)
    # And the record names the same approvers as the decision the wave received
    record = world.record(approval)
    assert record["status"] == "approved" and record["approvers"] == sent["approvers"]
    # And every approver the decision does not name is recorded as late, once, and counted nowhere else
    late = set(record.get("late_votes") or {})
    assert late == set(approvers) - set(sent["approvers"]), (late, sent["approvers"])
    assert set(record["votes"]) == set(sent["approvers"])


def test_an_approval_after_the_gate_closed_is_recorded_as_late_and_sends_nothing(world):
    # Given a 2-of-3 gate requested by dave, closed by bob's and carol's approvals
    approval = world.open_gate(requested_by="U04DAVE")
    world.click(approval, "U02BOB")
    world.click(approval, "U03CAROL")
    assert [kind for kind, _ in world.sfn.calls] == ["success"]
    # When alice clicks Approve afterwards, twice
    world.click(approval, "U01ALICE")
    world.click(approval, "U01ALICE")
    # Then the wave was resumed once, by bob and carol; alice's vote is kept as late, once
    assert [kind for kind, _ in world.sfn.calls] == ["success"]
    record = world.record(approval)
    assert record["approvers"] == ["U02BOB", "U03CAROL"] and "U01ALICE" not in record["votes"]
    assert list(record["late_votes"]) == ["U01ALICE"]
    assert record["late_votes"]["U01ALICE"]["gate_status"] == "approved"
    # And alice alone is told that her approval came late
    ephemeral = [e for e in world.slack.events() if e.get("response_type") == "ephemeral"]
    assert "recorded as late" in ephemeral[-1]["text"]
    # And a non-member clicking after the close is refused, not recorded
    world.click(approval, "U05ERIN")
    assert list(world.record(approval)["late_votes"]) == ["U01ALICE"]


def test_requester_cannot_approve_their_own_wave(world):
    # Given a gate alice requested
    approval = world.open_gate(requested_by="U01ALICE")
    # When alice clicks Approve
    world.click(approval, "U01ALICE")
    # Then no vote is recorded and alice alone sees why
    assert approvers_of(world.record(approval)) == []
    ephemeral = [
        e for e in world.slack.events() if e["kind"] == "response" and e.get("response_type") == "ephemeral"
    ]
    assert "four eyes" in ephemeral[-1]["text"]


def test_requester_named_by_iam_identity_is_recognised(world):
    # Given a gate requested by alice's IAM identity (e.g. `wavectl start` as alice)
    approval = world.open_gate(requested_by="arn:aws:sts::123456789012:assumed-role/WavectlApprover/alice")
    # When alice clicks Approve in Slack
    world.click(approval, "U01ALICE")
    # Then she is recognised as the requester and refused
    assert approvers_of(world.record(approval)) == []


def test_non_member_is_refused_with_an_ephemeral_message(world):
    # Given a platform gate (no escalation yet)
    approval = world.open_gate()
    # When dave (payments) clicks Approve
    world.click(approval, "U04DAVE")
    # Then nothing is recorded and dave gets an ephemeral explanation
    assert approvers_of(world.record(approval)) == []
    last = world.slack.events()[-1]
    assert last["kind"] == "response" and last["response_type"] == "ephemeral"
    assert "platform" in last["text"]


def test_escalation_group_may_approve_after_escalate_after(world):
    # Given a gate whose escalation to payments is already due
    approval = world.open_gate(escalate_after=1, timeout=3600)
    import time

    time.sleep(1.1)
    # When dave (payments) approves
    world.click(approval, "U04DAVE")
    # Then his vote counts
    assert approvers_of(world.record(approval)) == ["U04DAVE"]


def test_reject_sends_task_failure_and_keeps_the_rejecter(world):
    # Given a 2-of-3 gate with one approval
    approval = world.open_gate()
    world.click(approval, "U02BOB")
    # When carol rejects
    world.click(approval, "U03CAROL", action="reject")
    # Then the execution is failed with Wavectl.Rejected and the rejecter is on record
    kind, call = world.sfn.calls[-1]
    assert kind == "failure" and call["error"] == "Wavectl.Rejected" and "U03CAROL" in call["cause"]
    record = world.record(approval)
    assert record["status"] == "rejected" and record["rejected_by"] == "U03CAROL"
    # And later clicks change nothing
    world.click(approval, "U01ALICE")
    assert len(world.sfn.calls) == 1
    assert "Rejected by <@U03CAROL>" in world.slack.messages("C0MIGRATION")[-1]["text"]


def test_task_token_never_reaches_slack_logs_or_evidence(world, task_logs):
    # Given a gate decided through Slack (approve + approve), and one rejected
    approval = world.open_gate()
    world.click(approval, "U02BOB")
    world.click(approval, "U01ALICE")  # refused: requester
    world.click(approval, "U03CAROL")
    other = world.open_gate(gate="second")
    world.click(other, "U02BOB", action="reject")
    # When we scan every Slack event, every log line and every evidence record
    slack_text = json.dumps(world.slack.events())
    logs = task_logs.text
    evidence = world.evidence()
    # Then the log capture really saw this test's approval lines (so the scan below can fail)
    assert approval in logs
    assert {"approval opened", "approval counted", "decision refused", "approval rejected"} <= set(
        task_logs.messages()
    )
    # And the task token appears in none of them, while the approval id does
    assert len(evidence) == 2
    for text in (slack_text, logs, *evidence):
        assert TOKEN_MARK not in text
    assert approval in slack_text
    assert all("task_token" not in json.loads(e) for e in evidence)


def _fail_once(world, method: str, code: str) -> list[str]:
    """Make the Step Functions client raise `code` on the next `method` call only."""
    from botocore.exceptions import ClientError

    real, failures = getattr(world.sfn, method), []

    def flaky(**kwargs):
        if not failures:
            failures.append(code)
            raise ClientError({"Error": {"Code": code, "Message": "Rate exceeded"}}, method)
        return real(**kwargs)

    setattr(world.sfn, method, flaky)
    return failures


def test_throttled_send_task_success_fails_the_click_and_the_next_click_resumes_the_wave(world):
    import pytest
    from botocore.exceptions import ClientError

    # Given a 2-of-3 gate bob approved, and Step Functions throttling the next SendTaskSuccess once
    approval = world.open_gate()
    world.click(approval, "U02BOB")
    failures = _fail_once(world, "send_task_success", "ThrottlingException")
    # When carol's approval completes the quorum
    with pytest.raises(ClientError):
        world.click(approval, "U03CAROL")
    # Then the click fails visibly, nothing was sent, and the record is not left "approved" but
    # pending again with both votes kept (the execution still waits for its result)
    assert failures == ["ThrottlingException"] and world.sfn.calls == []
    record = world.record(approval)
    assert record["status"] == "pending" and approvers_of(record) == ["U02BOB", "U03CAROL"]
    assert "decided_at" not in record and "expires_ttl" not in record
    # When carol clicks again
    response = world.click(approval, "U03CAROL")
    # Then SendTaskSuccess is sent exactly once with both approvers and the record is approved
    assert response["statusCode"] == 200
    ((kind, call),) = world.sfn.calls
    assert kind == "success" and json.loads(call["output"])["approvers"] == ["U02BOB", "U03CAROL"]
    assert world.record(approval)["status"] == "approved"
    # And a further click sends nothing more
    world.click(approval, "U02BOB")
    assert len(world.sfn.calls) == 1


def test_throttled_send_over_the_cli_route_is_an_error_and_a_retry_resends(world):
    from tasks.approvals import callback
    from wavectl import approvals as tool_approvals

    # Given a 1-of-3 gate and a throttled SendTaskSuccess
    approval = world.open_gate(required=1)
    _fail_once(world, "send_task_success", "ThrottlingException")
    bob = "arn:aws:sts::123456789012:assumed-role/WavectlApprover/bob"
    event = tool_approvals.cli_event(approval, "approve", None, bob)
    # When bob approves with `wavectl approve` (the function errors: API Gateway answers 5xx), then retries
    try:
        callback.handler(event, None)
        first_failed = False
    except Exception:
        first_failed = True
    retry = callback.handler(event, None)
    # Then the first attempt failed, the retry resumed the execution once
    assert first_failed
    assert retry["statusCode"] == 200
    assert [kind for kind, _ in world.sfn.calls] == ["success"]
    assert world.record(approval)["status"] == "approved"


def test_throttled_send_task_failure_keeps_the_gate_open_for_a_second_reject(world):
    import pytest
    from botocore.exceptions import ClientError

    # Given an open gate and a throttled SendTaskFailure
    approval = world.open_gate()
    _fail_once(world, "send_task_failure", "ServiceUnavailable")
    # When carol rejects, the send fails, and she rejects again
    with pytest.raises(ClientError):
        world.click(approval, "U03CAROL", action="reject")
    assert world.record(approval)["status"] == "pending" and "rejected_by" not in world.record(approval)
    world.click(approval, "U03CAROL", action="reject")
    # Then the execution is failed once and the record says rejected by carol
    assert [kind for kind, _ in world.sfn.calls] == ["failure"]
    record = world.record(approval)
    assert record["status"] == "rejected" and record["rejected_by"] == "U03CAROL"


def test_approval_after_the_gate_timed_out_is_recorded_as_timed_out(world):
    # Given a 1-of-3 gate whose task token Step Functions no longer accepts (TimeoutSeconds won)
    approval = world.open_gate(required=1)
    _fail_once(world, "send_task_success", "TaskTimedOut")
    # When bob approves
    response = world.click(approval, "U02BOB")
    # Then the click is answered (no error) and the record is corrected to timed_out
    assert response["statusCode"] == 200
    assert world.record(approval)["status"] == "timed_out"
