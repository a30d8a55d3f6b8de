"""The dns-cutover workflow's ASL, one state at a time: the loop over steps, the TTL wait, the gates."""

from __future__ import annotations

import json

import pytest

from tests.stacks.templates import definition, next_past_notes

STACK = "Wave-api-dns"


def all_states(asl: dict) -> dict[str, dict]:
    states = dict(asl["States"])
    for state in asl["States"].values():
        for branch in state.get("Branches", []):
            states.update(all_states(branch))
    return states


@pytest.fixture(scope="module")
def asl(cloud_assembly) -> dict:
    return definition(cloud_assembly, STACK)


def test_the_original_ttl_is_waited_out_by_one_wait_state_reading_its_seconds(asl):
    # Then the wait after lowering the TTL is one Wait state of $.ttl.wait_seconds, followed by the gate
    states = asl["States"]
    assert next_past_notes(states, "Lower TTL") == "Wait out the original TTL"
    assert states["Wait out the original TTL"] == {
        "Type": "Wait",
        "Comment": states["Wait out the original TTL"]["Comment"],
        "SecondsPath": "$.ttl.wait_seconds",
        "Next": "Approval: begin-shift",
    }


def test_the_definition_holds_no_record_step_or_alarm_so_its_size_does_not_grow_with_them(asl):
    # Given the example wave: 2 records, steps 10/25/50/100, 2 alarms
    text = json.dumps(asl)
    # Then none of them is in the definition: the tasks read them from their environment
    for value in ("api.acme-invest.example", "www.acme-invest.example", "api-5xx-rate", '"25"', "shift-to-"):
        assert value not in text, value
    # And one Shift weights state serves every step, entered through the step loop's Choice
    states = all_states(asl)
    assert [n for n in states if n.startswith("Shift")] == ["Shift weights"]
    gate_first = states["Gate before this step?"]
    assert gate_first["Choices"] == [
        {"Variable": "$.cursor.gated", "BooleanEquals": True, "Next": "Approval: shift"}
    ]
    assert gate_first["Default"] == "Shift weights"


def test_a_gated_step_asks_under_the_steps_own_gate_name(asl):
    # Then the loop's gate takes its name and summary from the cursor (shift-to-50, shift-to-100, ...)
    payload = asl["States"]["Approval: shift"]["Parameters"]["Payload"]
    assert payload["gate.$"] == "$.cursor.gate" and payload["summary.$"] == "$.cursor.summary"
    assert asl["States"]["Approval: shift"]["Next"] == "Shift weights"


def test_the_bake_waits_alarm_poll_then_watches_until_it_is_over(asl):
    states = asl["States"]
    assert next_past_notes(states, "Shift weights") == "Wait for the next poll"
    assert states["Wait for the next poll"]["SecondsPath"] == "$.shift.watch.poll_seconds"
    assert states["Watch alarms"]["Next"] == "Bake over?"
    choices = {c["Next"]: c for c in states["Bake over?"]["Choices"]}
    assert choices["Wait for the next poll"]["Variable"] == "$.shift.watch.done"
    assert choices["Rollback window"]["Variable"] == "$.shift.step.last"
    assert states["Bake over?"]["Default"] == "Next step"


def test_the_rollback_window_gate_times_out_into_closing_and_a_rejection_rolls_back(asl):
    # Then the window's gate lasts the rollback window (24 h); a timeout is recorded and closes the window
    states = all_states(asl)
    gate = states["Approval: close-rollback-window"]
    assert gate["TimeoutSeconds"] == 86400
    catches = {tuple(c["ErrorEquals"]): c["Next"] for c in gate["Catch"]}
    assert catches[("States.Timeout",)] == "Record timeout: close-rollback-window"
    assert states["Record timeout: close-rollback-window"]["Next"] == "Window elapsed"
    assert catches[("Wavectl.Rejected",)] == "Window rejected"
    # And the window (gate in parallel with the alarm watch) rolls back on any failure
    window = asl["States"]["Rollback window"]
    assert window["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Roll back"}]
    assert window["Next"] == "Close rollback window"


def test_every_failure_after_preflight_rolls_back_then_fails_with_the_caught_error(asl):
    states = asl["States"]
    for name in ("Lower TTL", "Shift weights", "Watch alarms", "Close rollback window"):
        assert {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Roll back"} in states[name][
            "Catch"
        ]
    assert states["Roll back"]["Next"] == "Wave failed"
    assert states["Wave failed"] == {
        "Type": "Fail",
        "ErrorPath": "$.error.Error",
        "CausePath": "$.error.Cause",
    }
    # And preflight, which changes nothing, fails the wave without rolling back
    assert states["Preflight"]["Catch"][0]["Next"] == "Preflight failed"
