"""The holes the adversarial review found in the approval path, each held shut by a test."""

from __future__ import annotations

import base64
import json
import time

import pytest
from botocore.exceptions import ClientError

from tasks.approvals import callback
from tasks.approvals.store import approvers_of
from tests.tasks.approvals_support import interaction_event, sign


def _event_with(world, approval: str, **changes) -> dict:
    event = interaction_event(approval, "U02BOB", "approve", world.slack)
    headers = dict(event["headers"])
    headers.update(changes.pop("headers", {}))
    return {**event, **changes, "headers": headers}


@pytest.mark.parametrize("timestamp", ["soon", "1700000000.5", "", "１７００", "9" * 400, "-1"])
def test_callback_answers_401_for_a_malformed_timestamp(world, timestamp):
    # Given an open gate
    approval = world.open_gate()
    # When a click arrives whose X-Slack-Request-Timestamp is not a whole number of seconds
    event = _event_with(world, approval, headers={"X-Slack-Request-Timestamp": timestamp})
    response = callback.handler(event, None)
    # Then it is refused as unauthenticated, not crashed on, and nothing is recorded
    assert response["statusCode"] == 401
    assert approvers_of(world.record(approval)) == []


def test_callback_answers_401_for_a_body_that_is_not_utf8(world):
    # Given an open gate and a body of invalid UTF-8, base64-encoded as API Gateway passes binary
    approval = world.open_gate()
    raw = b"payload=\xff\xfe\xfd"
    timestamp = int(time.time())
    event = _event_with(
        world,
        approval,
        body=base64.b64encode(raw).decode(),
        isBase64Encoded=True,
        headers={"X-Slack-Request-Timestamp": str(timestamp), "X-Slack-Signature": "v0=" + "0" * 64},
    )
    # When it arrives
    response = callback.handler(event, None)
    # Then 401
    assert response["statusCode"] == 401


def test_callback_answers_401_for_invalid_base64_and_non_string_headers(world):
    approval = world.open_gate()
    bad_base64 = _event_with(world, approval, body="%%%not-base64%%%", isBase64Encoded=True)
    not_a_map = {**_event_with(world, approval), "headers": ["X-Slack-Signature", "v0=1"]}
    assert callback.handler(bad_base64, None)["statusCode"] == 401
    assert callback.handler(not_a_map, None)["statusCode"] == 401


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_callback_answers_405_to_any_method_but_post_even_when_signed(world, method):
    # Given a validly signed click sent with another HTTP method
    approval = world.open_gate(required=1)
    event = _event_with(world, approval, httpMethod=method)
    # When it reaches the function
    response = callback.handler(event, None)
    # Then 405 and no vote
    assert response["statusCode"] == 405
    assert approvers_of(world.record(approval)) == [] and world.sfn.calls == []


def test_callback_answers_413_to_a_body_over_64_kb(world):
    # Given a validly signed body just over 64 kB
    approval = world.open_gate(required=1)
    body = "payload=" + "a" * (64 * 1024)
    timestamp = int(time.time())
    headers = {"X-Slack-Request-Timestamp": str(timestamp), "X-Slack-Signature": sign(body, timestamp)}
    event = _event_with(world, approval, body=body, headers=headers)
    # When it arrives
    response = callback.handler(event, None)
    # Then 413 before anything is parsed
    assert response["statusCode"] == 413


def test_vote_on_a_gate_whose_execution_was_stopped_is_refused_and_closes_the_record(world):
    # Given a 1-of-3 gate whose execution an operator stopped (StopExecution)
    approval = world.open_gate(required=1)
    world.sfn.status = "ABORTED"
    # When bob approves
    response = world.click(approval, "U02BOB")
    # Then no task result is sent, the record is closed as execution_ended, and no approval evidence exists
    assert response["statusCode"] == 200
    assert world.sfn.calls == []
    record = world.record(approval)
    assert record["status"] == "execution_ended" and approvers_of(record) == []
    assert not any(json.loads(e)["status"] == "approved" for e in world.evidence())
    # And bob is told why
    assert "ended" in world.slack.events()[-1]["text"]


def test_cli_vote_on_a_gate_whose_execution_failed_is_refused(world):
    from wavectl import approvals as tool_approvals

    approval = world.open_gate(required=1)
    world.sfn.status = "FAILED"
    bob = "arn:aws:sts::123456789012:assumed-role/WavectlApprover/bob"
    response = callback.handler(tool_approvals.cli_event(approval, "reject", None, bob), None)
    assert response["statusCode"] == 409
    assert world.record(approval)["status"] == "execution_ended" and world.sfn.calls == []


def test_late_reject_is_corrected_to_timed_out_like_a_late_approve(world):
    # Given a gate whose task token Step Functions no longer accepts (TimeoutSeconds won)
    approval = world.open_gate()
    real = world.sfn.send_task_failure

    def gone(**kwargs):
        raise ClientError({"Error": {"Code": "TaskTimedOut", "Message": "gone"}}, "SendTaskFailure")

    world.sfn.send_task_failure = gone
    # When carol rejects
    response = world.click(approval, "U03CAROL", action="reject")
    world.sfn.send_task_failure = real
    # Then the record and the evidence say timed_out, not rejected
    assert response["statusCode"] == 200
    record = world.record(approval)
    assert record["status"] == "timed_out" and record["decided_via"] == "timeout"
    decisions = [json.loads(e)["status"] for e in world.evidence()]
    assert "rejected" not in decisions and "timed_out" in decisions


def test_closing_click_is_answered_within_slacks_budget_when_slack_is_slow(world):
    # Given a 1-of-3 gate and a Slack that takes 1.5 s for chat.update and for response_url each
    approval = world.open_gate(required=1)
    _slow_slack(world, seconds=1.5)
    # When bob's click closes the gate
    started = time.perf_counter()
    response = world.click(approval, "U02BOB")
    elapsed = time.perf_counter() - started
    # Then the click is answered in well under Slack's 3 seconds (the two updates ran side by side)
    assert response["statusCode"] == 200
    assert elapsed < 2.5, f"answered after {elapsed:.2f}s"
    assert [kind for kind, _ in world.sfn.calls] == ["success"]


def _slow_slack(world, seconds: float) -> None:
    slack = world.slack
    real = slack.handle

    def slow(request):
        if "chat.update" in request.path or request.path.startswith("/response/"):
            time.sleep(seconds)
        return real(request)

    slack.handle = slow


def _failing_posts(world, failures: int) -> list[str]:
    """Make the local Slack answer the next `failures` chat.postMessage calls with HTTP 503."""
    from wavectl.local.slack import SlackResponse

    slack, real, seen = world.slack, world.slack.handle, []

    def flaky(request):
        if request.path.endswith("chat.postMessage") and len(seen) < failures:
            seen.append(request.path)
            return SlackResponse.of_json({"ok": False, "error": "service_unavailable"}, status=503)
        return real(request)

    slack.handle = flaky
    return seen


def test_failed_slack_post_is_retried_with_backoff_and_then_posted(world, monkeypatch):
    from tasks.approvals import request

    waits: list[float] = []
    monkeypatch.setattr(request, "_sleep", waits.append)
    # Given a Slack that fails the first two posts
    failed = _failing_posts(world, 2)
    # When a gate opens
    approval = world.open_gate()
    # Then the post was retried with growing waits and the message is in the channel
    assert len(failed) == 2 and waits == sorted(waits) and len(waits) == 2 and waits[0] > 0
    record = world.record(approval)
    assert record["message_ts"] and "post_error" not in record
    assert len(world.slack.messages("C0MIGRATION")) == 1


def test_slack_post_that_keeps_failing_is_recorded_listed_as_not_posted_and_posted_by_the_sweeper(
    world, monkeypatch, task_logs
):
    from datetime import timedelta

    from tasks.approvals import reminders, request
    from tests.tasks.approvals_support import TABLE, now
    from wavectl import approvals as tool_approvals

    monkeypatch.setattr(request, "_sleep", lambda seconds: None)
    # Given a Slack that is down for every attempt of the request
    _failing_posts(world, 10)
    approval = world.open_gate(remind_after=60)
    # Then the approval carries the error, an error line is logged, and `wavectl approvals` shows it
    record = world.record(approval)
    assert record["post_error"] and "message_ts" not in record
    assert "slack post failed after retries" in task_logs.messages()
    (listed,) = tool_approvals.pending(world.session, TABLE)
    assert listed["post_error"] and tool_approvals.slack_state(listed) == "NOT POSTED"
    # When Slack is back and the sweeper runs after remind_after
    world.slack.handle = type(world.slack).handle.__get__(world.slack)
    counts = reminders.sweep(world.services, now() + timedelta(seconds=90))
    # Then the request is posted, the error cleared, and the reminder lands in its thread
    record = world.record(approval)
    assert counts["posted"] == 1 and record["message_ts"] and "post_error" not in record
    root, reminder = world.slack.messages("C0MIGRATION")
    assert root["blocks"] and reminder["thread_ts"] == root["ts"] and "Reminder" in reminder["text"]
    (listed,) = tool_approvals.pending(world.session, TABLE)
    assert tool_approvals.slack_state(listed) == "posted"


def test_cli_vote_through_a_role_whose_session_name_is_not_pinned_is_refused(world):
    from tasks.approvals import approver_role
    from tests.tasks.approvals_support import approver_trust
    from wavectl import approvals as tool_approvals

    # Given the approver role trusts the account without pinning the session name, so eve (who may
    # assume it) can call herself bob with --role-session-name bob
    world.session.client("iam").update_assume_role_policy(
        RoleName="WavectlApprover", PolicyDocument=json.dumps(approver_trust(pinned=False))
    )
    approver_role._cache.clear()
    approval = world.open_gate(required=1)
    as_bob = "arn:aws:sts::123456789012:assumed-role/WavectlApprover/bob"
    # When "bob" approves from the CLI
    response = callback.handler(tool_approvals.cli_event(approval, "approve", None, as_bob), None)
    # Then the vote is refused: the session name proves nothing
    assert response["statusCode"] == 403 and "RoleSessionName" in json.loads(response["body"])["message"]
    assert approvers_of(world.record(approval)) == [] and world.sfn.calls == []


@pytest.mark.parametrize(
    ("condition", "pinned"),
    [
        ({"StringEquals": {"sts:RoleSessionName": "${aws:username}"}}, True),
        ({"StringLike": {"sts:SourceIdentity": "*@example.com"}}, True),
        ({"StringEquals": {"sts:RoleSessionName": "bob"}}, False),
        ({"ForAnyValue:StringEquals": {"sts:RoleSessionName": "${aws:username}"}}, False),
        (None, False),
    ],
)
def test_trust_policy_pins_the_session_name_only_with_username_or_source_identity(condition, pinned):
    from tasks.approvals.approver_role import trust_pins_session

    statement = {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::1:root"}, "Action": "sts:AssumeRole"}
    if condition:
        statement["Condition"] = condition
    assert trust_pins_session({"Statement": [statement]}) is pinned
