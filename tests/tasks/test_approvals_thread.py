"""One Slack thread per execution: the frame's notes (started, a main step finished) through the approval
request function, against moto's table and the local Slack stand-in."""

from __future__ import annotations

import json

import pytest

from tasks.approvals import request
from tests.tasks.approvals_support import ARN, CHANNEL, gate_event

EXECUTION = gate_event()["execution"]
WAVE = {"name": "orders-db", "kind": "db-snapshot-copy", "version": 3}


@pytest.fixture(autouse=True)
def world_services(world, monkeypatch):
    """The request function's handler on the test world's clients (its Step Functions says the
    execution runs on version 3)."""
    monkeypatch.setattr(request, "services", lambda *args, **kwargs: world.services)


def started_event(**request_fields) -> dict:
    fields = {
        "requested_by": ARN + "alice",
        "requested_by_source": "input",
        "change_ticket": "CHG-7",
        "dry_run": False,
        "requester": {"verified": True, "source": "cloudtrail", "principal": {"arn": ARN + "alice"}},
        **request_fields,
    }
    return {
        "action": "started",
        "execution": EXECUTION,
        "started_at": "2026-11-29T10:00:00.000Z",
        "wave": WAVE,
        "request": fields,
    }


def step_event(step: str) -> dict:
    return {
        "action": "step",
        "execution": EXECUTION,
        "wave": WAVE,
        "step": step,
        "at": "2026-11-29T10:05:00Z",
    }


def what(message: dict) -> str:
    return message["metadata"]["event_payload"]["what"]


def texts(message: dict) -> str:
    return json.dumps(message.get("blocks"), ensure_ascii=False)


def test_started_roots_the_thread_once_and_gates_and_steps_reply_in_it(world):
    # Given the frame says the execution started, then a gate opens and a main step finishes
    first = request.handler(started_event(), None)
    retried = request.handler(started_event(), None)  # a Lambda retry of the same state
    world.open_gate("start-copy")
    step = request.handler(step_event("Every database copied, restored and verified"), None)

    # Then "started" was posted once, as the root; the gate and the step reply in its thread
    assert (first, retried, step) == ({"posted": True}, {"posted": False}, {"posted": True})
    root, *replies = world.slack.messages(CHANNEL)
    assert [what(root)] + [what(m) for m in replies] == [
        "started", "gate start-copy", "step Every database copied, restored and verified",
    ]  # fmt: skip
    assert "thread_ts" not in root and all(m["thread_ts"] == root["ts"] for m in replies)
    assert world.services.store.thread_of(EXECUTION) == (CHANNEL, root["ts"])
    # And it names the requester by runbook name, verified, with the versions and the ticket
    said = texts(root)
    assert "*alice* (<@U01ALICE>), verified by CloudTrail" in said
    assert "v3 · state machine version 3" in said and "CHG-7" in said and "real run" in said
    assert '["' not in said and "task_token" not in said


def test_an_unknown_identity_is_shown_as_its_arn_and_a_dry_run_as_the_input_says(world):
    # Given a dry run started by an identity that is no person of the runbook
    stranger = "arn:aws:iam::123456789012:user/ci-bot"
    request.handler(
        started_event(
            requested_by=stranger, dry_run=True, change_ticket=None,
            requester={"verified": False, "source": "dry_run", "requested_by": stranger},
        ),
        None,
    )  # fmt: skip

    # Then the started message shows the ARN as typed, says it is a dry run and that there is no ticket
    said = texts(world.slack.messages(CHANNEL)[0])
    assert f"`{stranger}`, as the input says (a dry run is not looked up in CloudTrail)" in said
    assert "dry run: read-only checks, nothing is changed" in said and "none given" in said


def test_a_step_without_a_thread_starts_it_and_slack_down_never_fails_the_wave(world, monkeypatch, task_logs):
    # Given Slack refuses every post
    from slack_sdk.errors import SlackApiError

    from tasks.approvals import slack

    def refused(*args, **kwargs):
        raise SlackApiError("channel_not_found", {"ok": False, "error": "channel_not_found"})

    working = slack.post_root
    monkeypatch.setattr(slack, "post_root", refused)

    # When the execution starts and a step finishes
    results = [request.handler(started_event(), None), request.handler(step_event("Preflight passed"), None)]

    # Then neither note raises (the wave goes on), the failure is logged, and the claim is released
    assert results == [{"posted": False}, {"posted": False}]
    assert task_logs.messages().count("could not post to the execution's Slack thread") == 2
    assert world.services.store.thread_of(EXECUTION) is None

    # When Slack answers again, the next step starts the thread and the gate after it replies in it
    monkeypatch.setattr(slack, "post_root", working)
    assert request.handler(step_event("Preflight passed"), None) == {"posted": True}
    world.open_gate("start-copy")
    root, gate = world.slack.messages(CHANNEL)
    assert (what(root), what(gate), gate["thread_ts"]) == (
        "step Preflight passed",
        "gate start-copy",
        root["ts"],
    )


def test_a_reminder_for_a_gate_replies_in_the_executions_thread(world):
    # Given the execution's thread and a gate in it whose remind_after has passed
    from datetime import timedelta

    from tasks.approvals import reminders
    from tests.tasks.approvals_support import now

    request.handler(started_event(), None)
    approval_id = world.open_gate("start-copy", remind_after=60)

    # When the sweeper reminds the approvers
    assert reminders.remind(world.record(approval_id), world.services, now() + timedelta(minutes=5))

    # Then the reminder is in the execution's one thread (Slack threads are one level deep)
    root, gate, reminder = world.slack.messages(CHANNEL)
    assert reminder["text"].startswith("Reminder: 0 of 2 approvals")
    assert gate["thread_ts"] == reminder["thread_ts"] == root["ts"]
