"""`wavectl abort WAVE` at the approvals callback: the cool-off signal, under a rejection's rules."""

from __future__ import annotations

import json

from tasks.approvals import callback
from tasks.decommission import cooloff
from tests.tasks.approvals_support import ARN, TABLE, gate_event
from wavectl import approvals as tool_approvals

EXECUTION = gate_event()["execution"]


def abort_as(world, approval: str, who: str, reason: str | None = None) -> dict:
    event = tool_approvals.cli_event(approval, "abort", reason, ARN + who)
    response = callback.handler(event, None)
    return {"status": response["statusCode"], **json.loads(response["body"])}


def approved_decommission_gate(world) -> str:
    approval = world.open_gate("decommission", requested_by="U03CAROL")
    world.click(approval, "U01ALICE")
    world.click(approval, "U02BOB")
    assert world.record(approval)["status"] == "approved"
    return approval


def test_an_approver_aborts_the_cool_off_once_and_the_wave_sees_the_signal(world):
    # Given the decommission gate approved by alice and bob (the cool-off follows it)
    approval = approved_decommission_gate(world)

    # When bob runs `wavectl abort` with a reason, and alice does too afterwards
    first = abort_as(world, approval, "bob", "FX still reads the reports bucket")
    second = abort_as(world, approval, "alice")

    # Then bob's abort is recorded, alice is told who aborted first, and the cool-off loop sees bob's
    assert first["status"] == 200 and "restores every disabled resource" in first["message"]
    assert second["status"] == 409 and "U02BOB" in second["message"]
    signal = cooloff.abort_signal(world.session.client("dynamodb"), TABLE, EXECUTION)
    assert signal["by"] == "U02BOB" and signal["reason"] == "FX still reads the reports bucket"
    look = cooloff.check(signal, {"cool_off_seconds": 7 * 86400, "abort_check_seconds": 3600}, None)
    assert look["aborted"] and not look["finished"]
    # And the gate's decisions are unchanged (the signal is not a gate record)
    assert [r["gate"] for r in tool_approvals.execution_records(world.session, TABLE, EXECUTION)] == [
        "decommission"
    ]


def test_abort_is_refused_to_an_identity_that_is_no_approver_and_before_approval(world):
    # Given an open (not yet approved) decommission gate
    approval = world.open_gate("decommission", requested_by="U03CAROL")

    # When bob tries to abort, Then he is told to reject instead; nothing is signalled
    early = abort_as(world, approval, "bob")
    assert early["status"] == 409 and "reject" in early["message"]

    # When an unknown identity tries after approval, Then it is refused as no approver
    world.click(approval, "U01ALICE")
    world.click(approval, "U02BOB")
    stranger = callback.handler(tool_approvals.cli_event(approval, "abort", None, ARN + "mallory"), None)
    assert stranger["statusCode"] == 403
    assert cooloff.abort_signal(world.session.client("dynamodb"), TABLE, EXECUTION) is None


def test_the_cool_off_ends_when_its_simulated_time_is_spent():
    # Given a 7-day cool-off checked once a day, with no abort
    spec = {"cool_off_seconds": 7 * 86400, "abort_check_seconds": 86400}
    look = cooloff.check(None, spec, None)
    looks = 1
    # When the loop looks until it is finished
    while not look["finished"]:
        look = cooloff.check(None, spec, look)
        looks += 1
    # Then it looked 8 times (at 0, 1d ... 7d) and waited 7 days in all
    assert looks == 8 and look["waited_seconds"] == 7 * 86400
