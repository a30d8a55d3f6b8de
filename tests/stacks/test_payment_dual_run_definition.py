"""The payments-dual-run state machine (payment-dual-run) as synthesised: the cycle loop and its IAM."""

from __future__ import annotations

import json

import pytest

from tests.stacks.templates import definition, template

STACK = "Wave-payments-dual-run"


@pytest.fixture(scope="module")
def asl(cloud_assembly) -> dict:
    return definition(cloud_assembly, STACK)


def test_the_cycles_loop_through_one_set_of_states_so_the_definition_does_not_grow_with_max_cycles(asl):
    # Given the example wave: max_cycles 5, 2 clean days required, 1 shadow day, first day 2026-11-30
    states = asl["States"]
    text = json.dumps(asl)
    # Then no day, bucket or cycle count is in the definition (the tasks read them from their environment)
    for value in ("2026-11-30", "acme-payments-outbound", "accept-breaks-1", "daily/"):
        assert value not in text, value
    # And one reconcile state and one accept-breaks gate (named per cycle from the state) serve every day
    assert [n for n in states if n.startswith("Reconcile")] == ["Reconcile the day"]
    assert [n for n in states if n.startswith("Approval: accept-breaks")] == ["Approval: accept-breaks"]
    assert states["Approval: accept-breaks"]["Parameters"]["Payload"]["gate.$"] == "$.loop.cycle.gate"
    # And the loop goes back to looking for the next day's files from its Choice
    assert states["What next?"]["Default"] == "Look for the day's files"
    assert states["Both files there?"]["Default"] == "Wait for the next look"
    assert states["Wait for the next look"]["SecondsPath"] == "$.loop.cycle.files.poll_seconds"


def test_every_failure_after_the_bridge_is_on_rolls_back_then_fails_with_the_cause(asl):
    states = asl["States"]
    for name in ("Switch bridge on", "Look for the day's files", "Reconcile the day", "Record the cycle"):
        assert {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Roll back"} in states[name][
            "Catch"
        ]
    assert states["Roll back"]["Next"] == "Wave failed"
    assert states["Roll back"]["ResultPath"] == "$.error"
    # And a rejection of accept-breaks becomes Wavectl.ReconciliationFailed before the rollback
    assert states["Reconciliation failed"]["Parameters"]["Error"] == "Wavectl.ReconciliationFailed"
    assert states["Reconciliation failed"]["Next"] == "Roll back"
    # And preflight and the start gate, before any change, fail without rolling back
    assert states["Preflight"]["Catch"][0]["Next"] == "Preflight failed"


def test_only_the_rollback_and_switch_tasks_may_write_the_primary_flag_and_nothing_disables_the_bridge(
    cloud_assembly,
):
    # Given the synthesised wave stack (the runbook keeps the bridge on after a rollback)
    resources = template(cloud_assembly, STACK)["Resources"]
    writers, disablers = set(), set()
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::IAM::Policy":
            continue
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if "ssm:PutParameter" in actions:
                writers.add(statement["Sid"])
                assert "parameter/acme-to-globex/payments/primary" in json.dumps(statement["Resource"])
            if "events:DisableRule" in actions:
                disablers.add(logical_id)
    # Then two statements write the flag, both on the named parameter, and none disables the bridge
    assert writers == {"SwitchPrimaryFlag", "RestorePrimaryFlag"}
    assert disablers == set()
