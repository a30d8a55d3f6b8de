"""The program key's policy: it names who may administer it and who may use it, and delegates nothing to
the account's IAM (the state machines' history, the approvals table and the evidence use this key)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.stacks.templates import resources_of_type, template

ENCRYPT_OR_DECRYPT = {
    "kms:Decrypt",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:ReEncrypt*",
    "kms:CreateGrant",
}


def _key_statements(cloud_assembly: Path) -> list[dict]:
    [key] = resources_of_type(template(cloud_assembly, "ControlPlane"), "AWS::KMS::Key")
    return key["Properties"]["KeyPolicy"]["Statement"]


def _listed(value: object) -> list:
    return value if isinstance(value, list) else [value]


def _role_name(arn: object) -> str:
    """The role name at the end of an ARN, plain or a CloudFormation Fn::Join of its parts."""
    text = arn if isinstance(arn, str) else json.dumps(arn)
    return text.rsplit(":role/", 1)[1].split('"')[0]


def _named_roles(statement: dict) -> set[str]:
    return {_role_name(a) for a in _listed(statement["Condition"]["ArnEquals"]["aws:PrincipalArn"])}


def _key_grants_in_iam(cloud_assembly: Path) -> dict[str, set[str]]:
    """Role name -> the KMS actions on the program key its IAM policies grant, over every template."""
    control = template(cloud_assembly, "ControlPlane")["Resources"]
    [key_id] = [name for name, r in control.items() if r["Type"] == "AWS::KMS::Key"]
    grants: dict[str, set[str]] = {}
    for path in sorted(cloud_assembly.glob("*.template.json")):
        resources = json.loads(path.read_text())["Resources"]
        for policy in resources.values():
            if policy["Type"] != "AWS::IAM::Policy":
                continue
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                actions = {a for a in _listed(statement["Action"]) if a.startswith("kms:")}
                resource = json.dumps(statement["Resource"])
                # the key: its own Arn in the control plane, the control plane's export of it elsewhere
                if not actions or key_id not in resource:
                    continue
                for role in policy["Properties"]["Roles"]:
                    name = resources[role["Ref"]]["Properties"]["RoleName"]
                    grants.setdefault(name, set()).update(actions)
    return grants


def test_program_key_is_not_delegated_to_the_accounts_iam(cloud_assembly: Path):
    # Given the program key's policy
    for statement in _key_statements(cloud_assembly):
        principal = json.dumps(statement["Principal"])
        # Then nothing grants kms:*, and the account itself is a principal only with named roles
        assert "kms:*" not in _listed(statement["Action"]), statement.get("Sid")
        if ":root" in principal:
            assert _named_roles(statement), statement.get("Sid")


def test_program_key_is_used_only_by_the_operators_and_the_tools_roles_that_iam_lets_use_it(
    cloud_assembly: Path, example_runbook
):
    # Given the key policy's statements naming roles by aws:PrincipalArn
    statements = [s for s in _key_statements(cloud_assembly) if "ArnEquals" in s.get("Condition", {})]
    [operators] = [s for s in statements if s["Sid"].startswith("Operators")]
    tools = [s for s in statements if s is not operators]
    # Then the operators are exactly program.yaml's roles, to start waves and read what the key protects
    assert _named_roles(operators) == {_role_name(a) for a in example_runbook.program.operators.roles}
    assert set(operators["Action"]) == {"kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"}
    # And the tool's roles are exactly those an IAM policy lets use the key, each with the same actions
    named = {role: set(_listed(s["Action"])) for s in tools for role in _named_roles(s)}
    assert named == _key_grants_in_iam(cloud_assembly)
    # And they include the callback (tokens, votes), a state machine role and the guard of a wave that
    # reads its dependencies' executions (history), never the approver
    assert {
        "acme-to-globex-approval-callback",
        "acme-to-globex-orders-db-sfn",
        "acme-to-globex-api-dns-guard",
    } <= set(named)
    assert "acme-to-globex-orders-db-guard" not in named  # no dependency: it reads no execution
    assert "WavectlApprover" not in json.dumps(_key_statements(cloud_assembly))


def test_program_key_is_administered_by_the_deploy_role_and_break_glass_admins_who_cannot_use_it(
    cloud_assembly: Path, example_runbook
):
    # Given the statements that name principals directly (no condition on who)
    [admin] = [s for s in _key_statements(cloud_assembly) if s["Sid"].startswith("Administer")]
    principals = {_role_name(p) for p in _listed(admin["Principal"]["AWS"])}
    # Then they are the CDK deploy role and program.yaml's key admins
    admins = {_role_name(a) for a in example_runbook.program.operators.key_admins}
    assert principals == {"cdk-hnb659fds-cfn-exec-role-111111111111-eu-west-1", *admins}
    # And they may keep the key manageable (KMS's lockout check) but not encrypt or decrypt with it
    assert {"kms:PutKeyPolicy", "kms:GetKeyPolicy", "kms:ScheduleKeyDeletion"} <= set(admin["Action"])
    assert not ENCRYPT_OR_DECRYPT & set(admin["Action"])
    assert "Condition" not in admin


def test_program_key_lets_the_deploy_role_use_it_only_through_the_services_it_creates(cloud_assembly: Path):
    # Given the deploy role's use of the key (tables, secrets and state machines are created encrypted)
    [deploy] = [s for s in _key_statements(cloud_assembly) if s["Sid"].startswith("DeployRole")]
    # Then it goes through DynamoDB, Secrets Manager or Step Functions only
    services = deploy["Condition"]["StringEquals"]["kms:ViaService"]
    assert sorted(services) == [
        f"{s}.eu-west-1.amazonaws.com" for s in ("dynamodb", "secretsmanager", "states")
    ]


def test_program_key_services_act_only_for_this_accounts_log_groups(cloud_assembly: Path):
    # Given the statements for AWS services
    services = [s for s in _key_statements(cloud_assembly) if "Service" in s["Principal"]]
    assert {s["Principal"]["Service"] for s in services} == {
        "logs.eu-west-1.amazonaws.com",
        "delivery.logs.amazonaws.com",
    }
    # Then each is conditioned on this account's log groups
    for statement in services:
        assert ":logs:eu-west-1:111111111111:*" in json.dumps(statement["Condition"]), statement["Sid"]


# ------------------------------------------------------------------------- guards, on a tiny app


def _tiny_key_stack():
    from aws_cdk import App, Environment, Stack
    from aws_cdk import aws_kms as kms

    stack = Stack(App(), "Tiny", env=Environment(account="111111111111", region="eu-west-1"))
    return stack, kms.Key(stack, "Key")


def test_a_construct_that_widens_the_key_policy_fails_the_synth():
    from aws_cdk import aws_iam as iam

    from stacks.key_policy import KeyPolicyError, base_statements, name_the_key_users

    # Given a key to which some construct added a statement for the whole account
    stack, key = _tiny_key_stack()
    key.add_to_resource_policy(
        iam.PolicyStatement(principals=[iam.AccountRootPrincipal()], actions=["kms:Decrypt"], resources=["*"])
    )
    # When the key's policy is written / Then it refuses, naming the statement
    with pytest.raises(KeyPolicyError, match="kms:Decrypt"):
        name_the_key_users(key, base_statements(stack, [], []), [stack])


def test_a_role_without_a_fixed_name_that_uses_the_key_fails_the_synth():
    from aws_cdk import aws_iam as iam

    from stacks.key_policy import KeyPolicyError, base_statements, name_the_key_users

    # Given a role named by CloudFormation at deploy time that IAM lets decrypt with the key
    stack, key = _tiny_key_stack()
    role = iam.Role(stack, "Unnamed", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    key.grant_decrypt(role)
    # When the key's policy is written / Then it refuses: the policy could not name that role
    with pytest.raises(KeyPolicyError, match="no fixed name"):
        name_the_key_users(key, base_statements(stack, [], []), [stack])
