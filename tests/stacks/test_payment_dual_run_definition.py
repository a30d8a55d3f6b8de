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
    assert sorted(n for n in states if n.startswith("Reconcile")) == [
        "Reconcile the day",
        "Reconcile the partitions",
    ]
    assert [n for n in states if n.startswith("Approval: accept-breaks")] == ["Approval: accept-breaks"]
    assert states["Approval: accept-breaks"]["Parameters"]["Payload"]["gate.$"] == "$.loop.cycle.gate"
    # And the loop goes back to waiting for the next day's files from its Choice
    assert states["What next?"]["Default"] == "Wait for the day's files"


def test_the_files_are_awaited_by_a_callback_that_times_out_at_the_deadline_into_files_missing(asl):
    # Given the example wave's 6 h file deadline
    wait = asl["States"]["Wait for the day's files"]
    # Then the wait is a callback whose token goes to the function (kept server-side), not a poll
    assert wait["Resource"].endswith(":states:::lambda:invoke.waitForTaskToken")
    assert wait["Parameters"]["Payload"]["task_token.$"] == "$$.Task.Token"
    assert wait["TimeoutSeconds"] == 6 * 3600
    assert not [s for s in asl["States"].values() if s["Type"] == "Wait"]
    # And its timeout names the missing files (FilesMissing) before anything else; any other error rolls back
    assert wait["Catch"][0] == {
        "ErrorEquals": ["States.Timeout"],
        "ResultPath": "$.error",
        "Next": "Name the missing files",
    }
    assert wait["Catch"][1]["Next"] == "Roll back"
    assert asl["States"]["Name the missing files"]["Next"] == "Size the day"
    assert wait["Next"] == "Size the day"


def test_a_day_above_the_runbook_threshold_is_reconciled_in_a_distributed_map_of_hash_partitions(asl):
    states = asl["States"]
    # Given the sizes of the day's files, a Choice sends a big day through the partitioned path
    assert states["Size the day"]["Next"] == "Partitioned?"
    (big,) = states["Partitioned?"]["Choices"]
    assert big["Variable"] == "$.plan.partitioned" and big["Next"] == "Partition the day"
    assert states["Partitioned?"]["Default"] == "Reconcile the day"
    # Then the partitions are reconciled by a Distributed Map of Standard child executions, one per item
    fan_out = states["Reconcile the partitions"]
    assert fan_out["Type"] == "Map" and fan_out["ItemsPath"] == "$.partitioned.items"
    assert fan_out["ItemProcessor"]["ProcessorConfig"] == {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
    assert list(fan_out["ItemProcessor"]["States"]) == ["Reconcile one partition"]
    # And a merge writes the day's outputs before the same clean check; a failure in the Map rolls back
    assert fan_out["Next"] == "Merge the partitions" and states["Merge the partitions"]["Next"] == "Clean?"
    assert states["Reconcile the day"]["Next"] == "Clean?"
    assert fan_out["Catch"][0]["Next"] == "Roll back"


def test_the_s3_events_of_both_files_invoke_the_arrival_function_only(cloud_assembly):
    # Given the synthesised wave stack
    resources = template(cloud_assembly, STACK)["Resources"]
    rules = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::Events::Rule"]
    # Then one rule matches the Object Created events of the two keys' prefixes in their two buckets
    (rule,) = rules
    pattern = rule["EventPattern"]
    assert pattern["source"] == ["aws.s3"] and pattern["detail-type"] == ["Object Created"]
    assert set(pattern["detail"]["bucket"]["name"]) == {
        "acme-payments-outbound",
        "globex-payment-bridge-acks",
    }
    assert pattern["detail"]["object"]["key"] == [{"prefix": "settled/"}, {"prefix": "daily/"}]
    assert len(rule["Targets"]) == 1
    # And the source account may put S3 events on this account's default bus, nothing else
    (policy,) = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::Events::EventBusPolicy"]
    assert policy["Statement"]["Action"] == "events:PutEvents"
    assert policy["Statement"]["Condition"] == {"StringEquals": {"events:source": "aws.s3"}}


def test_file_wait_records_are_the_only_items_the_wait_functions_may_touch(cloud_assembly):
    # Given the synthesised wave stack
    resources = template(cloud_assembly, STACK)["Resources"]
    statements = [
        st
        for r in resources.values()
        if r["Type"] == "AWS::IAM::Policy"
        for st in r["Properties"]["PolicyDocument"]["Statement"]
        if st.get("Sid") in ("FileWaitRecords", "ResumeFileWait")
    ]
    # Then both wait functions reach the approvals table only on file-wait partition keys
    records = [st for st in statements if st["Sid"] == "FileWaitRecords"]
    assert len(records) == 2
    for statement in records:
        leading = statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]
        assert leading == ["filewait#*", "file#*"]
        assert "dynamodb:Scan" not in statement["Action"] and "dynamodb:DeleteItem" not in statement["Action"]
    # And they may resume this wave's workflow only (no SendTaskFailure: a timeout is the workflow's)
    resumes = [st for st in statements if st["Sid"] == "ResumeFileWait"]
    assert len(resumes) == 2
    for statement in resumes:
        assert statement["Action"] == "states:SendTaskSuccess"
        assert "stateMachine:acme-to-globex-payments-dual-run" in json.dumps(statement["Resource"])


def test_every_failure_after_the_bridge_is_on_rolls_back_then_fails_with_the_cause(asl):
    states = asl["States"]
    for name in ("Switch bridge on", "Name the missing files", "Reconcile the day", "Record the cycle"):
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
