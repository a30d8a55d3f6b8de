"""The program key's policy, written out in full: who may administer the key, who may use it for what,
and which AWS services may use it on whose behalf. No statement delegates the key to the account's IAM
(CDK's default `kms:*` for the account root is not there), so an IAM policy alone never opens it.

- **Administration** (policy, rotation, aliases, tags, deletion; never Encrypt/Decrypt): the CDK deploy
  role (`cdk-<qualifier>-cfn-exec-role-...`), which must keep it so that CloudFormation can create the key
  (KMS refuses a policy that would lock out its caller) and update it later, and the break-glass roles of
  `operators.key_admins` in program.yaml, named directly as principals, so that the key stays manageable
  if the deploy role is lost or re-bootstrapped. Either can rewrite the policy; CloudTrail records it.
- **Use by people**: the roles of `operators.roles` (start a wave, read its history, the approvals table
  and the evidence): `kms:Decrypt`, `kms:GenerateDataKey`, `kms:DescribeKey`.
- **Use by the tool**: each of the program's own roles that an IAM policy lets use the key, by name, with
  exactly the KMS actions its IAM policies grant (found in the synthesised stacks, `name_the_key_users`).
- **Services**: CloudWatch Logs for the program's log groups (encryption context of this account's log
  groups), log delivery for the state machines' vended logs (this account's log groups), and the deploy
  role creating the encrypted tables, secrets and state machines (`kms:ViaService`).

People's and the tool's roles are named with `aws:PrincipalArn` on the tooling account as principal, not
as principals: KMS refuses a principal that does not exist yet, and the wave stacks' roles are created
after this key. Such a statement opens the key only to a principal whose own IAM policy also allows the
call, so both locks must agree.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable

from aws_cdk import Aws, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms

ADMIN_ACTIONS = (
    "kms:CancelKeyDeletion",
    "kms:CreateAlias",
    "kms:DeleteAlias",
    "kms:DescribeKey",
    "kms:DisableKey",
    "kms:DisableKeyRotation",
    "kms:EnableKey",
    "kms:EnableKeyRotation",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListAliases",
    "kms:ListGrants",
    "kms:ListKeyPolicies",
    "kms:ListResourceTags",
    "kms:PutKeyPolicy",
    "kms:RevokeGrant",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateAlias",
    "kms:UpdateKeyDescription",
)
OPERATOR_ACTIONS = ("kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey")
DEPLOY_ACTIONS = ("kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey*")
DEPLOYED_ENCRYPTED_SERVICES = ("dynamodb", "secretsmanager", "states")
LOG_ACTIONS = ("kms:Decrypt*", "kms:Describe*", "kms:Encrypt*", "kms:GenerateDataKey*", "kms:ReEncrypt*")


class KeyPolicyError(ValueError):
    """A role uses the program key but cannot be named, or a construct widened the key's policy."""


def deploy_role_arn(stack: Stack) -> str:
    """The role CloudFormation deploys with (the CDK bootstrap's cfn-exec role)."""
    arn = getattr(stack.synthesizer, "cloud_formation_execution_role_arn", None)
    if not arn:
        raise KeyPolicyError(
            "the program key needs the CDK deploy role as its administrator (default synthesizer)"
        )
    return arn.replace("${AWS::Partition}", Aws.PARTITION).replace("${AWS::AccountId}", stack.account)


def role_arn(stack: Stack, name: str) -> str:
    return f"arn:{Aws.PARTITION}:iam::{stack.account}:role/{name}"


def base_statements(
    stack: Stack, operator_roles: list[str], key_admins: list[str]
) -> list[iam.PolicyStatement]:
    """Everything but the tool's own roles (added once every stack of the program is built)."""
    deploy_role = deploy_role_arn(stack)
    region, account = stack.region, stack.account
    return [
        iam.PolicyStatement(
            sid="AdministerOnlyDeployRoleAndBreakGlassAdmins",
            principals=[iam.ArnPrincipal(arn) for arn in (deploy_role, *key_admins)],
            actions=list(ADMIN_ACTIONS),
            resources=["*"],  # in a key policy "*" means this key
        ),
        iam.PolicyStatement(
            sid="DeployRoleCreatesEncryptedTablesSecretsAndStateMachines",
            principals=[iam.ArnPrincipal(deploy_role)],
            actions=list(DEPLOY_ACTIONS),
            resources=["*"],
            conditions={
                "StringEquals": {
                    "kms:ViaService": [f"{s}.{region}.amazonaws.com" for s in DEPLOYED_ENCRYPTED_SERVICES]
                }
            },
        ),
        _named_roles_statement(
            stack, "OperatorsStartWavesAndReadHistoryEvidenceApprovals", OPERATOR_ACTIONS, operator_roles
        ),
        iam.PolicyStatement(
            sid="CloudWatchLogsUseForWavectlLogGroups",
            principals=[iam.ServicePrincipal(f"logs.{region}.amazonaws.com")],
            actions=list(LOG_ACTIONS),
            resources=["*"],
            conditions={
                "ArnLike": {"kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:{region}:{account}:*"}
            },
        ),
        iam.PolicyStatement(
            sid="LogDeliveryOfStateMachineLogs",
            principals=[iam.ServicePrincipal("delivery.logs.amazonaws.com")],
            actions=["kms:Decrypt*"],  # what CDK grants it for a state machine encrypted with this key
            resources=["*"],
            conditions={
                "StringEquals": {"aws:SourceAccount": account},
                "ArnLike": {"aws:SourceArn": f"arn:{Aws.PARTITION}:logs:{region}:{account}:*"},
            },
        ),
    ]


def _named_roles_statement(
    stack: Stack, sid: str, actions: Iterable[str], arns: list[str]
) -> iam.PolicyStatement:
    return iam.PolicyStatement(
        sid=sid,
        principals=[iam.AccountPrincipal(stack.account)],
        actions=sorted(actions),
        resources=["*"],
        conditions={"ArnEquals": {"aws:PrincipalArn": sorted(arns)}},
    )


# ------------------------------------------------------------------------------ the tool's roles


def key_users(stacks: Iterable[Stack], key: kms.Key) -> dict[str, frozenset[str]]:
    """Role name -> the KMS actions on `key` its IAM policies grant, over the program's stacks."""
    key_id = Stack.of(key).get_logical_id(key.node.default_child)  # type: ignore[arg-type]
    users: dict[str, set[str]] = defaultdict(set)
    for stack in stacks:
        role_names = _role_names(stack)
        for policy in _policies(stack):
            actions = _key_actions(stack.resolve(policy.policy_document), key_id)
            if not actions:
                continue
            for role in stack.resolve(policy.roles) or []:
                name = role_names.get(role.get("Ref")) if isinstance(role, dict) else role
                if not isinstance(name, str):
                    raise KeyPolicyError(
                        f"{policy.node.path} lets role {role} use the program key, but the role has no fixed "
                        "name for the key's policy to name (give it role_name)"
                    )
                users[name] |= actions
    return {name: frozenset(actions) for name, actions in users.items()}


def _role_names(stack: Stack) -> dict[str, object]:
    return {
        stack.get_logical_id(role): stack.resolve(role.role_name)
        for role in stack.node.find_all()
        if isinstance(role, iam.CfnRole)
    }


def _policies(stack: Stack) -> list[iam.CfnPolicy | iam.CfnManagedPolicy]:
    return [c for c in stack.node.find_all() if isinstance(c, (iam.CfnPolicy, iam.CfnManagedPolicy))]


def _key_actions(document: dict, key_id: str) -> set[str]:
    actions: set[str] = set()
    for statement in document.get("Statement", []):
        named = statement.get("Action", [])
        named = [named] if isinstance(named, str) else named
        kms_actions = {a for a in named if a.startswith("kms:")}
        if kms_actions and key_id in json.dumps(statement.get("Resource")):
            actions |= kms_actions
    return actions


def tool_role_statements(stack: Stack, users: dict[str, frozenset[str]]) -> list[iam.PolicyStatement]:
    """One statement per set of actions, naming each role that is granted exactly that set."""
    by_actions: dict[frozenset[str], list[str]] = defaultdict(list)
    for name, actions in users.items():
        by_actions[actions].append(role_arn(stack, name))
    return [
        _named_roles_statement(stack, "ToolRoles" + _sid_words(actions), actions, arns)
        for actions, arns in sorted(by_actions.items(), key=lambda item: sorted(item[0]))
    ]


def _sid_words(actions: frozenset[str]) -> str:
    return "".join(re.sub(r"[^A-Za-z0-9]", "", a.removeprefix("kms:")) for a in sorted(actions))


# ------------------------------------------------------------------------------ the whole policy


def name_the_key_users(
    key: kms.Key, base: list[iam.PolicyStatement], stacks: Iterable[Stack]
) -> dict[str, frozenset[str]]:
    """Write the key's policy: `base` plus the tool's roles found in `stacks`. It replaces the policy
    CDK built, after checking that no construct added a statement this module does not write."""
    stack = Stack.of(key)
    _refuse_unknown_additions(stack, key)
    users = key_users(stacks, key)
    document = iam.PolicyDocument(statements=[*base, *tool_role_statements(stack, users)])
    cfn_key: kms.CfnKey = key.node.default_child  # type: ignore[assignment]
    cfn_key.key_policy = document
    return users


# What CDK adds by itself, and the statement of this module that replaces it:
#   a secret encrypted with the key: the account root via Secrets Manager -> the named roles' statements
#     (Secrets Manager calls KMS as its caller) and the deploy role's kms:ViaService statement;
#   a state machine encrypted with the key that logs: delivery.logs, unconditioned ->
#     LogDeliveryOfStateMachineLogs, conditioned on this account's log groups.
def _refuse_unknown_additions(stack: Stack, key: kms.Key) -> None:
    cfn_key: kms.CfnKey = key.node.default_child  # type: ignore[assignment]
    for statement in (stack.resolve(cfn_key.key_policy) or {}).get("Statement", []):
        if _replaced_by_cdk_default(stack, statement):
            continue
        raise KeyPolicyError(
            "a construct added a statement to the program key's policy that stacks/key_policy.py does not "
            f"write (add it there, narrowed): {json.dumps(statement)}"
        )


def _replaced_by_cdk_default(stack: Stack, statement: dict) -> bool:
    principal = json.dumps(statement.get("Principal"))
    if statement.get("Action") == "kms:*" and ":root" in principal and "Condition" not in statement:
        return True  # CDK's default delegation to IAM: the point of this module is to leave it out
    if "delivery.logs.amazonaws.com" in principal:
        return True
    via = statement.get("Condition", {}).get("StringEquals", {}).get("kms:ViaService")
    return ":root" in principal and via == f"secretsmanager.{stack.region}.amazonaws.com"
