"""The requester identity: execution input `requested_by`, and the CloudTrail StartExecution caller.

moto has no `cloudtrail:LookupEvents` (the call fails in the embedded AWS), so the CloudTrail
side is tested at its boundary: `identity.lookup_start_execution(cloudtrail, ...)` gets a real botocore
cloudtrail client under `botocore.stub.Stubber` (which checks the request and the response against the
service model) answering with a recorded LookupEvents page (tests/events/). The fallback to `input`
and `unknown` runs against moto itself.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
from botocore.stub import ANY, Stubber

from tasks.approvals import callback, identity, reminders, request
from tasks.approvals.store import approvers_of
from tests.tasks.approvals_support import (
    CHANNEL,
    REGION,
    gate_event,
    now,
)
from wavectl import approvals as tool_approvals

EVENTS = Path(__file__).resolve().parents[1] / "events" / "cloudtrail_lookup_start_execution.json"
EXECUTION = "arn:aws:states:eu-west-1:123456789012:execution:p-orders-db:run-1"
ALICE_ARN = "arn:aws:sts::123456789012:assumed-role/WavectlApprover/alice"
BOB_ARN = "arn:aws:sts::123456789012:assumed-role/WavectlApprover/bob"
STARTED = datetime(2024, 5, 14, 10, 2, 17, tzinfo=UTC)


def recorded_page() -> dict[str, Any]:
    page = json.loads(EVENTS.read_text())
    for event in page["Events"]:
        event["EventTime"] = datetime.fromisoformat(event["EventTime"].replace("Z", "+00:00"))
    return page


def stubbed_cloudtrail(*pages: dict[str, Any]) -> tuple[Any, Stubber]:
    client = boto3.Session(region_name=REGION).client(
        "cloudtrail", aws_access_key_id="x", aws_secret_access_key="x", config=identity.CLIENT_CONFIG
    )
    stubber = Stubber(client)
    expected = {
        "LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "StartExecution"}],
        "StartTime": ANY,
        "EndTime": ANY,
        "MaxResults": 50,
    }
    for number, page in enumerate(pages):
        stubber.add_response("lookup_events", page, {**expected, **({"NextToken": ANY} if number else {})})
    stubber.activate()
    return client, stubber


def started_event(requested_by: str | None, **policy: Any) -> dict[str, Any]:
    event = gate_event(requested_by=requested_by, **policy)
    event["execution_started_at"] = "2024-05-14T10:02:17.000Z"
    if requested_by is None:
        event["requested_by_source"] = "unknown"
    return event


def test_recorded_events_yield_the_earliest_start_execution_caller_of_this_execution():
    # Given a recorded LookupEvents page: bob starting another wave, alice starting this one, and eve
    # repeating the same StartExecution later (idempotent: same execution ARN)
    events = recorded_page()["Events"]
    # When the page is matched against this execution
    principal = identity.match_start_execution(events, EXECUTION)
    # Then alice's call, the one that started it, names the requester, with her session and role
    assert principal is not None
    assert principal.arn == ALICE_ARN and principal.session_name == "alice"
    assert principal.issuer_arn == "arn:aws:iam::123456789012:role/WavectlApprover"
    assert principal.event_id == "0b6f3a94-1c2d-4e8f-b7a6-5d4c3b2a1f09"
    # And an execution nobody started in this page has no principal
    assert identity.match_start_execution(events, EXECUTION.replace("run-1", "run-2")) is None


def test_cloudtrail_principal_is_the_requester_and_cannot_approve_in_slack(world):
    # Given a 1-of-3 gate whose input claims carol asked, while CloudTrail shows alice started it
    cloudtrail, stubber = stubbed_cloudtrail(recorded_page())
    services = dataclasses.replace(world.services, cloudtrail=cloudtrail)
    approval = request.open_gate(started_event("U03CAROL", required=1), services, now())["approval_id"]
    stubber.assert_no_pending_responses()
    # When alice (mapped through her runbook iam ARN) and carol (the typed requester) click Approve
    world.click(approval, "U01ALICE")
    world.click(approval, "U03CAROL")
    # Then neither vote counts: four eyes holds for every known identity of the requester
    record = world.record(approval)
    assert approvers_of(record) == [] and world.sfn.calls == []
    assert record["requester"] == ALICE_ARN and record["requester_source"] == "cloudtrail"
    assert record["requester_input"] == "U03CAROL" and record["requester_identities_differ"] is True
    assert {"U01ALICE", ALICE_ARN, "U03CAROL"} <= set(record["requester_ids"])
    # And bob may approve; the evidence records where the requester came from, and both identities
    world.click(approval, "U02BOB")
    (evidence,) = [json.loads(e) for e in world.evidence()]
    assert evidence["approvers"] == ["U02BOB"] and evidence["requester_source"] == "cloudtrail"
    assert evidence["requester_principal"]["arn"] == ALICE_ARN
    assert evidence["requester_principal"]["event_id"] == "0b6f3a94-1c2d-4e8f-b7a6-5d4c3b2a1f09"
    assert evidence["requester_input"] == "U03CAROL"
    assert "(CloudTrail)" in json.dumps(world.slack.messages(CHANNEL)[0]["blocks"])


def test_cloudtrail_principal_cannot_approve_through_the_cli_route(world):
    # Given a gate CloudTrail says alice started (the input names nobody)
    cloudtrail, _ = stubbed_cloudtrail(recorded_page())
    services = dataclasses.replace(world.services, cloudtrail=cloudtrail)
    approval = request.open_gate(started_event(None, required=1), services, now())["approval_id"]
    # When alice's verified IAM identity approves through the IAM-authorised CLI route, then bob's
    alice = callback.handler(tool_approvals.cli_event(approval, "approve", None, ALICE_ARN), None)
    bob = callback.handler(tool_approvals.cli_event(approval, "approve", None, BOB_ARN), None)
    # Then alice is refused (four eyes) and bob's approval resumes the execution
    assert alice["statusCode"] == 403 and "four eyes" in json.loads(alice["body"])["message"]
    assert bob["statusCode"] == 200 and world.sfn.calls[0][0] == "success"
    assert world.record(approval)["requester_source"] == "cloudtrail"


def test_lookup_is_bounded_to_two_calls_and_an_empty_answer_falls_back_to_input(world):
    # Given CloudTrail that has not delivered the event yet but keeps offering more pages
    empty = {"Events": [], "NextToken": "more"}
    cloudtrail, stubber = stubbed_cloudtrail(empty, empty)
    services = dataclasses.replace(world.services, cloudtrail=cloudtrail)
    # When the gate is requested
    result = request.open_gate(started_event("U03CAROL"), services, now())
    # Then two LookupEvents calls were made (a third would have no stubbed answer), the message was
    # posted, and the requester is the input's, said so
    stubber.assert_no_pending_responses()
    assert result["posted"] is True
    record = world.record(result["approval_id"])
    assert (record["requester"], record["requester_source"]) == ("U03CAROL", "input")
    assert "requester_principal" not in record


def test_without_cloudtrail_in_moto_the_requester_falls_back_to_input_or_unknown(world):
    # Given the embedded AWS, whose CloudTrail does not implement LookupEvents
    services = dataclasses.replace(world.services, cloudtrail=world.session.client("cloudtrail"))
    # When one gate's input names alice and another's names nobody
    named = request.open_gate(started_event("U01ALICE"), services, now())["approval_id"]
    anonymous_event = started_event(None) | {"gate": "cutover"}
    anonymous = request.open_gate(anonymous_event, services, now())["approval_id"]
    # Then the gates still open; the first requester comes from the input, the second is unknown
    first, second = world.record(named), world.record(anonymous)
    assert (first["requester_source"], first["requester"]) == ("input", "U01ALICE")
    assert ALICE_ARN in first["requester_ids"]
    assert (second["requester_source"], second.get("requester"), second["requester_ids"]) == (
        "unknown",
        None,
        [],
    )


def test_sweeper_fills_in_the_requester_later_and_voids_their_vote(world):
    # Given a 2-of-3 gate opened before CloudTrail delivered the event, and alice's approval on it
    cloudtrail, _ = stubbed_cloudtrail({"Events": []})
    services = dataclasses.replace(world.services, cloudtrail=cloudtrail)
    approval = request.open_gate(started_event("U03CAROL", required=2), services, now())["approval_id"]
    world.click(approval, "U01ALICE")
    assert approvers_of(world.record(approval)) == ["U01ALICE"]
    # When the reminder sweeper runs after CloudTrail has delivered alice's StartExecution
    cloudtrail, stubber = stubbed_cloudtrail(recorded_page())
    services = dataclasses.replace(world.services, cloudtrail=cloudtrail)
    counts = reminders.sweep(services, STARTED + timedelta(minutes=10))
    # Then the requester is alice from CloudTrail, her vote no longer counts, and the thread says so
    stubber.assert_no_pending_responses()
    record = world.record(approval)
    assert counts["requester_found"] == 1
    assert record["requester_source"] == "cloudtrail" and record["requester"] == ALICE_ARN
    assert approvers_of(record) == [] and record["voided_votes"][0]["user"] == "U01ALICE"
    assert any("no longer counts" in m.get("text", "") for m in world.slack.messages(CHANNEL))
    # And alice cannot vote again; a later sweep asks CloudTrail no more for this approval
    world.click(approval, "U01ALICE")
    assert approvers_of(world.record(approval)) == []
    assert reminders.sweep(services, STARTED + timedelta(minutes=15))["requester_found"] == 0
