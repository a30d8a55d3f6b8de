"""Four eyes from the first vote: the requester is known before any gate opens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tasks.approvals import request
from tasks.approvals.identity import Principal
from tasks.approvals.store import approvers_of
from tasks.common.errors import RequesterPending, RequesterUnknown
from tasks.frame.requester import resolve_requester
from tests.tasks.approvals_support import CHANNEL, gate_event, now

STARTED = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
ALICE = Principal(
    arn="arn:aws:sts::123456789012:assumed-role/WavectlApprover/alice",
    session_name="alice",
    type="AssumedRole",
    principal_id="AROA:alice",
    issuer_arn="arn:aws:iam::123456789012:role/WavectlApprover",
    event_id="e-1",
    event_time="2026-11-29T10:00:00Z",
)


def _event(minutes_after_start: float, **extra) -> dict:
    return {
        "execution": "arn:aws:states:eu-west-1:123456789012:execution:p-orders-db:run-1",
        "started_at": STARTED.isoformat(),
        "now": (STARTED + timedelta(minutes=minutes_after_start)).isoformat(),
        "requested_by": None,
        "dry_run": False,
        "requester_policy": "verified",
        **extra,
    }


def test_requester_step_waits_while_cloudtrail_has_not_delivered_then_refuses():
    # Given CloudTrail without the StartExecution event
    def lookup(execution, started):
        return None

    # When the frame asks 1 minute after the start, then 16 minutes after
    with pytest.raises(RequesterPending):
        resolve_requester(_event(1), lookup)
    # Then it asks to be retried, and after the bounded wait refuses: no gate may open
    with pytest.raises(RequesterUnknown, match="requester: unverified"):
        resolve_requester(_event(16), lookup)


def test_requester_step_names_the_cloudtrail_principal():
    resolved = resolve_requester(_event(2), lambda execution, started: ALICE)
    assert resolved["verified"] is True and resolved["principal"]["arn"] == ALICE.arn


def test_requester_step_lets_an_unverified_wave_continue_with_the_input_after_the_wait():
    resolved = resolve_requester(
        _event(16, requester_policy="unverified", requested_by="U02BOB"), lambda execution, started: None
    )
    assert resolved == {"verified": False, "source": "input", "requested_by": "U02BOB"}


def test_requester_step_skips_the_lookup_in_a_dry_run():
    def lookup(execution, started):
        raise AssertionError("a dry run asks CloudTrail nothing")

    assert resolve_requester(_event(0, dry_run=True), lookup)["source"] == "dry_run"


def test_gate_refuses_to_open_while_the_requester_is_unknown(world):
    # Given a gate of a wave that requires a verified requester, reached with none resolved and no
    # requested_by in the input (the starter left it out)
    event = {**gate_event(requested_by=None), "requester_policy": "verified"}
    event.pop("requester", None)
    # When the gate's request runs
    with pytest.raises(RequesterUnknown):
        request.open_gate(event, world.services, now())
    # Then nothing was stored or posted: no vote can be cast on it
    assert world.slack.messages(CHANNEL) == []
    assert world.services.store.for_gate(event["execution"], event["gate"]) is None


def test_starter_who_left_requested_by_out_cannot_cast_the_closing_vote(world):
    # Given alice started the wave without requested_by; the frame resolved her from CloudTrail
    event = {
        **gate_event(requested_by=None, required=1),
        "requester_policy": "verified",
        "requester": {"verified": True, "source": "cloudtrail", "principal": ALICE.as_record()},
    }
    approval = request.open_gate(event, world.services, now())["approval_id"]
    # When alice clicks Approve the moment the gate opens
    world.click(approval, "U01ALICE")
    # Then her vote is refused (four eyes) and the execution still waits
    assert approvers_of(world.record(approval)) == [] and world.sfn.calls == []
    assert world.record(approval)["requester_source"] == "cloudtrail"
