"""The decommission workflow's ASL, one state at a time, and the IAM its task functions get."""

from __future__ import annotations

import pytest

from tests.stacks.templates import definition, iam_statements, next_past_notes

STACK = "Wave-decommission-acme"


@pytest.fixture(scope="module")
def states(cloud_assembly) -> dict[str, dict]:
    return definition(cloud_assembly, STACK)["States"]


def test_inventory_and_usage_proof_fail_the_wave_at_once_and_a_dry_run_stops_after_them(states):
    # Given the synthesised decommission-acme workflow / Then the read-only steps come first
    for step in ("Inventory", "Prove no use"):
        (catch,) = states[step]["Catch"]
        assert states[catch["Next"]]["Type"] == "Fail", step
    assert states["Inventory"]["Next"] == "Prove no use"
    assert next_past_notes(states, "Prove no use") == "Dry run?"
    assert states["Dry run?"]["Default"] == "Retain"


def test_retention_is_verified_before_the_four_eyes_gate_and_disable_comes_after_it(states):
    assert states["Retain: done?"]["Choices"][0]["Next"] == "Verify retention copies"
    assert states["Retain: wait"]["SecondsPath"] == "$.retention.wait_seconds"
    assert next_past_notes(states, "Verify retention copies") == "Summarise for decommission"
    assert states["Summarise for decommission"]["Next"] == "Approval: decommission"
    assert states["Approval: decommission"]["Parameters"]["Payload"]["policy"]["required"] == 2
    assert states["Approval: decommission"]["Next"] == "Disable"


def test_the_cool_off_loop_restores_on_abort_and_reaches_the_final_gate_when_over(states):
    choice = states["Cool-off: aborted or over?"]
    nexts = {c["Variable"]: c["Next"] for c in choice["Choices"]}
    assert nexts == {
        "$.cool_off.aborted": "Restore after abort",
        "$.cool_off.finished": "Summarise for delete",
    }
    assert choice["Default"] == "Cool-off: wait"
    assert states["Cool-off: wait"]["SecondsPath"] == "$.cool_off.wait_seconds"
    (catch,) = states["Restore after abort"]["Catch"]
    assert states[catch["Next"]]["Type"] == "Fail"
    assert states["Summarise for delete"]["Next"] == "Approval: delete"
    assert states["Approval: delete"]["Next"] == "Delete approved"


def test_every_step_after_the_usage_proof_compensates_before_failing(states):
    for step in (
        "Retain",
        "Retain again",
        "Verify retention copies",
        "Disable",
        "Cool-off: start",
        "Cool-off: look for abort",
        "Delete approved",
        "Delete approved again",
    ):
        assert any(c["Next"] == "Compensate" for c in states[step]["Catch"]), step
    for gate in ("Approval: decommission", "Approval: delete"):
        assert any(c["Next"] == "Compensate" for c in states[gate]["Catch"]), gate
    assert states["Compensate"]["Next"] == "Say what was restored"
    assert states["Say what was restored"]["Next"] == "Wave failed"


def test_the_counts_for_status_land_under_the_documented_output_key(states):
    assert states["Record evidence"]["ResultPath"] == "$.decommission"


def test_the_cool_off_reads_only_the_approvals_table(cloud_assembly):
    # Then the only DynamoDB action any decommission function has is GetItem (the abort signal)
    actions = {
        a
        for name, acts, _ in iam_statements(cloud_assembly)
        if "decom" in name.lower()
        for a in acts
        if a.startswith("dynamodb:")
    }
    assert actions == {"dynamodb:GetItem"}
