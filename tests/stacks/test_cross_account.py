"""The source and target accounts' role stacks: who may assume them, with what, and what they grant."""

from __future__ import annotations

import json

import pytest

from tests.stacks.templates import resources_of_type, template

SIDES = ("source", "target")

# Work in progress (issue 15): stacks/cross_account.py is not wired into stacks/app.py yet. Wiring needs
# the task roles named (WaveContext.assume_workload_roles) and the action list from the recorded calls
# through the assumed roles (calls.accumulated_by_assumed_role, saved by each xdist worker as *.roles).
pytestmark = pytest.mark.skip(reason="stacks/cross_account.py is not wired into stacks/app.py yet (issue 15)")


def _role(cloud_assembly, side: str) -> dict:
    (role,) = resources_of_type(template(cloud_assembly, f"CrossAccount-{side}"), "AWS::IAM::Role")
    return role["Properties"]


def _task_role_names(cloud_assembly) -> set[str]:
    names = set()
    for path in cloud_assembly.glob("Wave-*.template.json"):
        for role in resources_of_type(json.loads(path.read_text()), "AWS::IAM::Role"):
            if "RoleName" in role["Properties"]:
                names.add(role["Properties"]["RoleName"])
    return names


@pytest.mark.parametrize("side", SIDES)
def test_cross_account_stack_deploys_into_its_own_account(cloud_assembly, example_runbook, side):
    # Given the synthesised program
    manifest = json.loads((cloud_assembly / "manifest.json").read_text())
    account = getattr(example_runbook.program.accounts, side)
    # Then the role stack of that side targets the side's account, and its role has the runbook's name
    environment = manifest["artifacts"][f"CrossAccount-{side}"]["environment"]
    assert environment == f"aws://{account.id}/{example_runbook.program.home_region}"
    assert _role(cloud_assembly, side)["RoleName"] == account.role


@pytest.mark.parametrize("side", SIDES)
def test_cross_account_role_trusts_only_the_named_task_roles_with_the_external_id(
    cloud_assembly, example_runbook, side
):
    # Given the role stack of one side
    (statement,) = _role(cloud_assembly, side)["AssumeRolePolicyDocument"]["Statement"]
    tooling = example_runbook.program.accounts.tooling
    # Then only the tooling account may assume it, with the program's external id, and only from the
    # task roles that assume it, each by its name
    assert statement["Action"] == "sts:AssumeRole"
    assert tooling in json.dumps(statement["Principal"])
    assert statement["Condition"]["StringEquals"] == {"sts:ExternalId": "wavectl-acme-to-globex"}
    trusted = statement["Condition"]["ArnEquals"]["aws:PrincipalArn"]
    names = {json.dumps(arn).rsplit("/", 1)[-1].rstrip('"]}') for arn in trusted}
    assert names and names == _task_role_names(cloud_assembly)
    assert all(f":iam::{tooling}:role/" in json.dumps(arn) for arn in trusted)


@pytest.mark.parametrize("side", SIDES)
def test_cross_account_role_grants_named_actions_only(cloud_assembly, side):
    # Given the role stack of one side
    policies = resources_of_type(template(cloud_assembly, f"CrossAccount-{side}"), "AWS::IAM::Policy")
    statements = [s for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"]]
    actions = [a for s in statements for a in s["Action"]]
    # Then it grants named actions (no service:* nor *), nothing that administers IAM
    assert actions
    assert not [a for a in actions if a.endswith("*")]
    assert not [a for a in actions if a.startswith(("iam:", "sts:", "organizations:"))]
