"""The approval gate in the synthesised ASL, and the approvals infrastructure of the control plane."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.stacks.templates import definition, iam_statements, resources_of_type, template


def states(assembly: Path, wave: str) -> dict[str, dict]:
    return definition(assembly, f"Wave-{wave}", show_imports=True)["States"]


@pytest.fixture(scope="module")
def gate(cloud_assembly) -> dict:
    return states(cloud_assembly, "api-dns")["Approval: begin-shift"]


def test_gate_is_a_wait_for_task_token_invoke_of_the_request_function(gate):
    # Given the api-dns wave's first gate ("begin-shift")
    # Then its gate waits for a task token from the control plane's request function
    assert gate["Type"] == "Task"
    assert gate["Resource"].endswith(":states:::lambda:invoke.waitForTaskToken")
    assert gate["Parameters"]["FunctionName"] == "import:acme-to-globex-approval-request-function-arn"
    payload = gate["Parameters"]["Payload"]
    assert payload["task_token.$"] == "$$.Task.Token"
    assert payload["gate"] == "begin-shift" and payload["action"] == "request"
    assert payload["execution.$"] == "$$.Execution.Id"
    assert payload["requested_by.$"] == "$.request.requested_by"
    assert payload["policy"] == {"group": "platform", "required": 2, "timeout": 7200, "remind_after": 1800}
    assert payload["wave"] == {"name": "api-dns", "kind": "dns-cutover", "version": 1}


def test_gate_times_out_with_the_policy_timeout(gate):
    # Then TimeoutSeconds is the runbook's approval timeout (2h for api-dns)
    assert gate["TimeoutSeconds"] == 7200
    assert gate["ResultPath"] == "$.approval"


def test_gate_catches_rejection_timeout_and_other_errors_in_that_order(cloud_assembly, gate):
    # Then rejection goes to the failure path (the wave's rollback), timeout first records itself,
    # anything else fails too
    catches = [(c["ErrorEquals"], c["Next"], c["ResultPath"]) for c in gate["Catch"]]
    assert catches == [
        (["Wavectl.Rejected"], "Roll back", "$.error"),
        (["States.Timeout"], "Record timeout: begin-shift", "$.error"),
        (["States.ALL"], "Roll back", "$.error"),
    ]
    flow = states(cloud_assembly, "api-dns")
    record = flow["Record timeout: begin-shift"]
    assert record["Parameters"]["action"] == "timed_out"
    assert (record["ResultPath"], record["Next"]) == ("$.error", "Roll back")
    assert record["Catch"][0]["Next"] == "Timed out: begin-shift"
    assert flow["Timed out: begin-shift"]["Parameters"]["Error"] == "Wavectl.ApprovalTimedOut"
    assert flow["Roll back"]["Next"] == "Wave failed"
    assert flow["Wave failed"] == {
        "Type": "Fail",
        "ErrorPath": "$.error.Error",
        "CausePath": "$.error.Cause",
    }


def test_every_wave_has_an_approval_gate(cloud_assembly, example_runbook):
    # Then every wave's workflow waits for at least one approval
    for wave in example_runbook.waves:
        gates = [
            s
            for s in states(cloud_assembly, wave.wave).values()
            if "waitForTaskToken" in s.get("Resource", "")
        ]
        assert gates, f"{wave.wave} has no approval gate"


def test_only_the_callback_function_may_send_task_results(cloud_assembly):
    # Given every IAM policy of the program that may answer a task token
    senders = {
        name: (set(actions), json.dumps(resource))
        for name, actions, resource in iam_statements(cloud_assembly)
        if any(a.startswith("states:SendTask") or a in ("states:*", "*") for a in actions)
    }
    # Then only the approval callback may decide a gate (success or failure), on the program's machines
    callback = [name for name in senders if "approvalcallback" in name]
    assert len(callback) == 1
    actions, resource = senders.pop(callback[0])
    assert actions == {"states:SendTaskSuccess", "states:SendTaskFailure"}
    assert "stateMachine:acme-to-globex-*" in resource
    # And the rest are the dual run's file waits: they may only resume (never fail) their own wave
    assert sorted(senders) and all("dualrun" in name for name in senders), sorted(senders)
    for actions, resource in senders.values():
        assert actions == {"states:SendTaskSuccess"}
        assert resource.endswith('":stateMachine:acme-to-globex-payments-dual-run"]]}')


def test_approvals_api_signs_slack_route_by_hmac_and_cli_route_by_iam(cloud_assembly):
    # Given the control plane
    control_plane = template(cloud_assembly, "ControlPlane")
    methods = {
        json.dumps(m["Properties"]["ResourceId"]): m["Properties"]["AuthorizationType"]
        for m in resources_of_type(control_plane, "AWS::ApiGateway::Method")
    }
    # Then one route is open to Slack (signature checked in code) and one requires IAM
    assert sorted(methods.values()) == ["AWS_IAM", "NONE"]
    (stage,) = resources_of_type(control_plane, "AWS::ApiGateway::Stage")
    assert stage["Properties"]["AccessLogSetting"]["DestinationArn"]
    settings = stage["Properties"]["MethodSettings"][0]
    assert settings["ThrottlingRateLimit"] == 20 and settings["DataTraceEnabled"] is False
    (rule,) = [  # the reminders' schedule (the control plane has other rules: archive, metrics)
        r
        for r in resources_of_type(control_plane, "AWS::Events::Rule")
        if "reminders" in r["Properties"]["Description"]
    ]
    assert rule["Properties"]["ScheduleExpression"] == "rate(5 minutes)"
    assert "SlackInteractivityUrl" in control_plane["Outputs"]


def test_status_index_of_the_approvals_table_projects_no_task_token(cloud_assembly):
    # Given the control plane's approvals table
    control_plane = template(cloud_assembly, "ControlPlane")
    (table,) = [
        t
        for t in resources_of_type(control_plane, "AWS::DynamoDB::Table")
        if t["Properties"].get("GlobalSecondaryIndexes")
    ]
    (index,) = table["Properties"]["GlobalSecondaryIndexes"]
    # Then its by-status index projects the listed attributes only, never the task token
    from tasks.contracts import STATUS_INDEX_ATTRIBUTES

    assert index["IndexName"] == "by-status"
    assert index["Projection"]["ProjectionType"] == "INCLUDE"
    assert sorted(index["Projection"]["NonKeyAttributes"]) == sorted(STATUS_INDEX_ATTRIBUTES)
    assert "task_token" not in index["Projection"]["NonKeyAttributes"]


@pytest.mark.parametrize("role", ["approvalrequest", "approvalreminders", "taskrequester"])
def test_only_the_request_reminder_and_frame_requester_functions_may_look_up_cloudtrail(
    cloud_assembly, example_runbook, role
):
    # Given every IAM policy of the program
    grants = [
        (name, actions, resource)
        for name, actions, resource in iam_statements(cloud_assembly)
        if any(a.startswith("cloudtrail:") or a in ("*", "cloudtrail:*") for a in actions)
    ]
    # Then LookupEvents (Resource *: it has no resource-level permissions) goes to the approval request
    # and reminder functions and to each wave's frame requester step only
    assert len(grants) == 2 + len(example_runbook.waves)
    assert all(actions == ["cloudtrail:LookupEvents"] for _, actions, _ in grants)
    assert all(resource == "*" for _, _, resource in grants)
    assert any(role in name.lower() for name, _, _ in grants)


EXPECTED_NOTES = {
    "orders-db": {"started", "Preflight passed", "Every database copied, restored and verified",
                  "Intermediate snapshots and the share removed"},
    "api-dns": {"started", "Preflight passed", "TTL lowered on every record", "Weights shifted",
                "Rollback window closed, old records removed"},
    "payments-dual-run": {"started", "Preflight passed", "Payment bridge switched on",
                          "Primary flag set to new"},
    "decommission-acme": {"started", "Inventory and usage proof passed", "Retention copies made and verified",
                          "Resources disabled, previous state kept", "Approved resources deleted"},
}  # fmt: skip


@pytest.mark.parametrize("wave", sorted(EXPECTED_NOTES))
def test_every_wave_tells_its_slack_thread_it_started_and_each_main_step_finished(cloud_assembly, wave: str):
    from stacks.workflows.frame import NOTE_PREFIX

    # Given the wave's synthesised workflow
    flow = states(cloud_assembly, wave)
    notes = {n.removeprefix(NOTE_PREFIX): state for n, state in flow.items() if n.startswith(NOTE_PREFIX)}

    # Then its thread is started right after the requester is known, before anything else of the wave
    assert set(notes) == EXPECTED_NOTES[wave]
    assert flow["Resolve requester"]["Next"] == f"{NOTE_PREFIX}started"
    started = notes["started"]["Parameters"]
    assert started["action"] == "started" and started["request.$"] == "$.request"
    # And every note is a plain invoke of the control plane's request function whose result is thrown
    # away (it changes nothing in the state), carrying no task token
    for name, note in notes.items():
        payload = note["Parameters"]
        assert note["Resource"] == "import:acme-to-globex-approval-request-function-arn", name
        assert note["ResultPath"] is None, name
        assert payload["wave"]["name"] == wave and payload["execution.$"] == "$$.Execution.Id"
        assert "task_token.$" not in payload and "Catch" not in note, name
        if name != "started":
            assert (payload["action"], payload["step"]) == ("step", name)
