"""The request side of a gate: storing, posting once, timing out, reminding, escalating, the CLI route."""

from __future__ import annotations

import json
from datetime import timedelta

from tasks import contracts as c
from tasks.approvals import callback, reminders, request
from tests.tasks.approvals_support import (
    CHANNEL,
    TABLE,
    TOKEN_MARK,
    gate_event,
    now,
)
from wavectl import approvals as tool_approvals


def test_request_posts_block_kit_message_whose_buttons_carry_only_the_approval_id(world):
    # Given a gate event from the state machine
    approval = world.open_gate()
    # When the request is handled
    message = world.slack.messages(CHANNEL)[-1]
    # Then one message names wave, version, gate, summary, approvers, count and deadline
    text = json.dumps(message["blocks"])
    for fact in ("orders-db v3", "gate go", "Copy orders", "<@U02BOB>", "2 distinct", "Deadline"):
        assert fact in text
    buttons = next(b for b in message["blocks"] if b["type"] == "actions")["elements"]
    assert [b["value"] for b in buttons] == [approval, approval]
    assert approval.startswith("apr_") and len(approval) >= 20


def test_retried_request_for_the_same_execution_and_gate_posts_once_and_keeps_the_id(world):
    # Given a gate already requested
    first = request.open_gate(gate_event(), world.services, now())
    # When Step Functions retries the state (a new task token, same execution and gate)
    retry = gate_event()
    retry["task_token"] = "SECRET-TASK-TOKEN-retry-" + "y" * 40
    second = request.open_gate(retry, world.services, now())
    # Then there is still one approval and one Slack message, now holding the newest token
    assert second["approval_id"] == first["approval_id"] and second["posted"] is False
    assert len(world.slack.messages(CHANNEL)) == 1
    assert world.record(first["approval_id"])["task_token"] == retry["task_token"]


def test_timeout_marks_the_approval_timed_out_and_says_so(world):
    # Given an open gate with one approval
    approval = world.open_gate()
    world.click(approval, "U02BOB")
    # When the gate's TimeoutSeconds fires and the workflow records the timeout
    result = request.timed_out(gate_event() | {"action": "timed_out"}, world.services, now())
    # Then the workflow gets Wavectl.ApprovalTimedOut, the record is timed_out, evidence exists
    assert result["Error"] == "Wavectl.ApprovalTimedOut"
    record = world.record(approval)
    assert record["status"] == "timed_out"
    assert "Timed out" in world.slack.messages(CHANNEL)[-1]["text"]
    (evidence,) = [json.loads(e) for e in world.evidence()]
    assert evidence["status"] == "timed_out" and evidence["approvers"] == ["U02BOB"]
    # And a late click changes nothing
    world.click(approval, "U03CAROL")
    assert world.sfn.calls == []


def test_evidence_records_who_when_what_and_digests(world):
    # Given a gate approved by bob and carol
    approval = world.open_gate()
    world.click(approval, "U02BOB")
    world.click(approval, "U03CAROL")
    # When we read the evidence record
    (evidence,) = [json.loads(e) for e in world.evidence()]
    # Then it names approvers, votes, channel, times, wave, version, gate and both digests
    assert evidence["approvers"] == ["U02BOB", "U03CAROL"]
    assert set(evidence["votes"]) == {"U02BOB", "U03CAROL"}
    assert evidence["channel"] == CHANNEL and evidence["decided_at"] and evidence["created_at"]
    assert (evidence["wave"], evidence["runbook_version"], evidence["gate"]) == ("orders-db", 3, "go")
    assert evidence["definition_digest"] == "sha256:" + "ab" * 32
    assert evidence["input_digest"].startswith("sha256:")
    assert world.record(approval)["evidence_key"].startswith("approvals/orders-db/run-1/go/")


def test_reminder_and_escalation_are_posted_once_in_the_thread(world):
    # Given a gate with remind_after 60 s and escalation to payments after 120 s
    approval = world.open_gate(remind_after=60, escalate_after=120)
    later = now() + timedelta(seconds=130)
    # When the sweeper runs twice after both are due
    first = reminders.sweep(world.services, later)
    second = reminders.sweep(world.services, later)
    # Then one reminder and one escalation were posted, in the request's thread
    assert (first["reminded"], first["escalated"]) == (1, 1)
    assert (second["reminded"], second["escalated"]) == (0, 0)
    root = world.slack.messages(CHANNEL)[0]
    thread = [m for m in world.slack.messages(CHANNEL) if m.get("thread_ts") == root["ts"]]
    assert "Reminder" in thread[0]["text"] and "<@U02BOB>" in thread[0]["text"]
    assert "Escalated to payments" in thread[1]["text"] and "<@U04DAVE>" in thread[1]["text"]
    assert world.record(approval)["escalated_at"]


def test_cli_route_maps_the_verified_iam_caller_to_an_approver(world):
    # Given an open 1-of-3 gate requested by alice
    approval = world.open_gate(required=1)
    # When someone without an approver identity calls the IAM route, then bob does
    stranger = callback.handler(
        tool_approvals.cli_event(approval, "approve", None, "arn:aws:sts::123456789012:assumed-role/X/eve"),
        None,
    )
    bob_arn = "arn:aws:sts::123456789012:assumed-role/WavectlApprover/bob"
    bob = callback.handler(tool_approvals.cli_event(approval, "approve", "Slack is down", bob_arn), None)
    # Then the stranger is refused and bob's approval resumes the execution, recorded as via cli
    assert stranger["statusCode"] == 403
    assert bob["statusCode"] == 200
    assert world.sfn.calls[0][0] == "success"
    assert world.record(approval)["votes"]["U02BOB"]["via"] == "cli"


def test_status_reads_decisions_per_execution_and_pending(world):
    # Given one approved and one rejected gate in the same execution, and one pending gate elsewhere
    first = world.open_gate(gate="go", required=1)
    world.click(first, "U02BOB")
    second = world.open_gate(gate="cutover")
    world.click(second, "U03CAROL", action="reject")
    other = gate_event(gate="go") | {"execution": "arn:aws:states:eu-west-1:123456789012:execution:p-x:run-9"}
    request.open_gate(other, world.services, now())
    # When status asks for this execution's decisions and for pending approvals
    decisions = tool_approvals.decisions_for_execution(world.session, TABLE, gate_event()["execution"])
    pending = tool_approvals.pending(world.session, TABLE)
    # Then each gate has its decision and people, and nothing exposes a task token
    assert [(d["gate"], d["decision"], d["approvers"]) for d in decisions] == [
        ("go", "approved", ["U02BOB"]),
        ("cutover", "rejected", []),
    ]
    assert decisions[1]["rejected_by"] == "U03CAROL"
    assert [p["execution"] for p in pending] == [other["execution"]]
    assert "task_token" not in json.dumps(pending + decisions)


def test_task_tokens_never_leave_aws_for_the_tools_readers(world):
    # Given an approved gate, a gate with one vote, and an open gate of another execution
    first = world.open_gate(gate="go", required=1)
    world.click(first, "U02BOB")
    second = world.open_gate(gate="cutover")
    world.click(second, "U03CAROL")
    other = gate_event(gate="go") | {"execution": "arn:aws:states:eu-west-1:123456789012:execution:p-x:run-9"}
    request.open_gate(other, world.services, now())
    responses: list[dict] = []
    world.session.events.register("after-call.dynamodb", lambda parsed, **_: responses.append(parsed))
    # When the tool reads status, pending approvals and single records (as `wavectl approvals`,
    # `wavectl status` and the local demo do)
    decisions = tool_approvals.decisions_for_execution(world.session, TABLE, gate_event()["execution"])
    pending = tool_approvals.pending(world.session, TABLE)
    record = tool_approvals.approval_record(world.session, TABLE, second)
    # Then what DynamoDB sent back (not merely what the tool kept) carries no task token
    assert len(responses) >= 4
    assert TOKEN_MARK not in json.dumps(responses, default=str)
    # And the readers still get what they show
    assert [(d["gate"], d["decision"]) for d in decisions] == [("go", "approved"), ("cutover", "pending")]
    assert {(p["gate"], p["execution"]) for p in pending} == {
        ("cutover", gate_event()["execution"]),
        ("go", other["execution"]),
    }
    assert all(p["policy"]["required"] and p["wave"] and p["approval_id"] for p in pending)
    assert pending[0]["votes"] or pending[1]["votes"]
    assert record is not None and record["votes"]["U03CAROL"] and record["status"] == "pending"
    assert record["channel"] and record["message_ts"] and record["requester_ids"]


def test_status_index_projects_no_task_token(world):
    # Given open approvals, each with its task token on the record
    world.open_gate(gate="go")
    world.open_gate(gate="cutover")
    # When anyone allowed to query the by-status index reads it without naming attributes
    items = world.session.client("dynamodb").query(
        TableName=TABLE,
        IndexName=c.APPROVALS_STATUS_INDEX,
        KeyConditionExpression="#s = :p",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":p": {"S": "pending"}},
    )["Items"]
    # Then the index items hold no token (the table, read by the task functions, still does)
    assert len(items) == 2
    assert all("task_token" not in item for item in items)
    assert TOKEN_MARK not in json.dumps(items)


def test_reminder_sweep_reads_full_pending_records_by_key(world):
    # Given an open gate and a closed one
    open_id = world.open_gate(gate="go")
    closed = world.open_gate(gate="cutover", required=1)
    world.click(closed, "U02BOB")
    # When the sweeper lists pending approvals with its own role
    records = world.services.store.pending()
    # Then it gets the open one only, complete (message, requester ids, its token for its own role)
    assert [r["approval_id"] for r in records] == [open_id]
    assert records[0]["message_ts"] and records[0]["requester_ids"] and records[0]["task_token"]
