"""What the synthesised templates enforce for trust: encrypted history, a pinned approver role, the
requester resolved before any gate, the callback's narrow reads."""

from __future__ import annotations

import json
from pathlib import Path

from tests.stacks.templates import resources_of_type, template, wave_definitions


def _statements(role_policy_resources: list[dict]) -> list[dict]:
    return [s for p in role_policy_resources for s in p["Properties"]["PolicyDocument"]["Statement"]]


def test_every_state_machine_is_encrypted_with_the_program_key(cloud_assembly: Path):
    # Given every wave stack's state machines (a database wave also has its per-database workflow)
    for path in sorted(cloud_assembly.glob("Wave-*.template.json")):
        tmpl = json.loads(path.read_text())
        machines = resources_of_type(tmpl, "AWS::StepFunctions::StateMachine")
        assert machines, path.name
        for machine in machines:
            # Then definitions, inputs, outputs and history (task tokens included) use the customer key
            encryption = machine["Properties"]["EncryptionConfiguration"]
            assert encryption["Type"] == "CUSTOMER_MANAGED_KMS_KEY", path.name
            assert "Fn::ImportValue" in json.dumps(encryption["KmsKeyId"]), path.name


def test_approver_role_pins_the_session_name_to_the_iam_user(cloud_assembly: Path):
    tmpl = template(cloud_assembly, "ControlPlane")
    role = next(
        r
        for r in resources_of_type(tmpl, "AWS::IAM::Role")
        if r["Properties"].get("RoleName") == "WavectlApprover"
    )
    [trust] = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Condition"] == {"StringEquals": {"sts:RoleSessionName": "${aws:username}"}}


def test_callback_reads_only_the_runbooks_approver_roles(cloud_assembly: Path):
    tmpl = template(cloud_assembly, "ControlPlane")
    statements = _statements(resources_of_type(tmpl, "AWS::IAM::Policy"))
    [get_role] = [s for s in statements if s.get("Sid") == "ReadApproverRoleTrustPolicies"]
    resources = get_role["Resource"] if isinstance(get_role["Resource"], list) else [get_role["Resource"]]
    assert get_role["Action"] == "iam:GetRole"
    assert all("role/WavectlApprover" in json.dumps(r) for r in resources)


def test_requester_is_resolved_before_any_gate_in_every_wave(cloud_assembly: Path):
    for wave, asl in wave_definitions(cloud_assembly).items():
        # Given the frame's first states
        guard = asl["States"][asl["StartAt"]]
        assert guard["Next"] == "Resolve requester", wave
        resolve = asl["States"]["Resolve requester"]
        assert resolve["ResultPath"] == "$.request.requester"
        assert any("Wavectl.RequesterPending" in r["ErrorEquals"] for r in resolve["Retry"])
        # Then every gate hands the request function the resolved requester and the wave's policy
        for name, state in asl["States"].items():
            if name.startswith("Approval: "):
                payload = state["Parameters"]["Payload"]
                assert payload["requester.$"] == "$.request.requester"
                assert payload["requester_policy"] in ("verified", "unverified")
