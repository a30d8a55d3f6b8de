"""The source and target accounts' role stacks: who may assume them, with what, and what they grant."""

from __future__ import annotations

import json

import pytest

from stacks import workload_actions
from tests.stacks.templates import resources_of_type, template

SIDES = ("source", "target")


def _role(cloud_assembly, side: str) -> dict:
    (role,) = resources_of_type(template(cloud_assembly, f"CrossAccount-{side}"), "AWS::IAM::Role")
    return role["Properties"]


def _assumers(cloud_assembly, role_arn: str) -> set[str]:
    """Names of the tooling account's roles whose IAM policies let them assume `role_arn`."""
    names = set()
    for path in cloud_assembly.glob("Wave-*.template.json"):
        resources = json.loads(path.read_text())["Resources"]
        for policy in resources.values():
            if policy["Type"] != "AWS::IAM::Policy":
                continue
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                resource = (
                    statement["Resource"]
                    if isinstance(statement["Resource"], list)
                    else [statement["Resource"]]
                )
                if statement["Action"] == "sts:AssumeRole" and role_arn in resource:
                    names |= {
                        resources[r["Ref"]]["Properties"]["RoleName"] for r in policy["Properties"]["Roles"]
                    }
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
    role_arn = getattr(example_runbook.program.accounts, side).role_arn()
    assert names and names == _assumers(cloud_assembly, role_arn)
    assert all(f":iam::{tooling}:role/" in json.dumps(arn) for arn in trusted)


@pytest.mark.parametrize("side", SIDES)
def test_cross_account_role_grants_what_the_tasks_were_recorded_calling(cloud_assembly, side):
    # Given the role stack of one side
    policies = resources_of_type(template(cloud_assembly, f"CrossAccount-{side}"), "AWS::IAM::Policy")
    actions = {
        a for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"] for a in s["Action"]
    }
    # Then it grants the actions recorded through that side's role (stacks/workload_actions.py), no more
    assert actions == set(getattr(workload_actions, side.upper()))


@pytest.mark.parametrize("side", SIDES)
def test_cross_account_role_grants_named_actions_only(cloud_assembly, side):
    # Given the role stack of one side
    policies = resources_of_type(template(cloud_assembly, f"CrossAccount-{side}"), "AWS::IAM::Policy")
    statements = [s for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"]]
    actions = [a for s in statements for a in s["Action"]]
    # Then it grants named actions (no service:* nor *), reads of IAM at most (the DNS preflight reads its
    # own role's policies), nothing that changes IAM or reaches further accounts
    assert actions
    assert not [a for a in actions if "*" in a]
    assert not [a for a in actions if a.startswith("iam:") and not a.startswith(("iam:Get", "iam:List"))]
    assert not [a for a in actions if a.startswith(("sts:", "organizations:"))]


def test_least_privilege_comparison_flags_calls_and_grants_the_role_stacks_disagree_on(
    cloud_assembly, example_runbook
):
    from tests.workflows.least_privilege_support import assumed_called_not_granted, assumed_granted_not_called

    # Given recordings through the source and target roles: one call more, one grant never used
    accounts = example_runbook.program.accounts
    source, target = accounts.source.role_arn(), accounts.target.role_arn()
    recorded = {
        source: {action: {"ok"} for action in (*workload_actions.SOURCE, "rds:RebootDBInstance")},
        target: {action: {"ok"} for action in workload_actions.TARGET[1:]},
    }
    # When they are compared with the role stacks / Then each difference is named under its role
    assert assumed_called_not_granted(recorded, cloud_assembly) == {source: {"rds:RebootDBInstance"}}
    assert assumed_granted_not_called(recorded, cloud_assembly) == {target: {workload_actions.TARGET[0]}}
