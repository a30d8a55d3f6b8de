"""The roles wavectl's task functions assume in other accounts (source, target, a retention account): one
small stack per role, deployed into that role's account with credentials of that account
(`cdk deploy <program>-cross-account-source`).

Trust: only the tooling account's task roles that assume it, each by name (`aws:PrincipalArn`; the task
roles have fixed names, stacks/constructs/task_function.py), and only with the program's external id
(`sts:ExternalId`: `accounts.external_id` in program.yaml, else `wavectl-<program>`). The principal is the
tooling account with those conditions rather than the roles' ARNs, so the stack deploys before the
tooling account's roles exist (IAM refuses a principal that does not exist yet).

Permissions: the IAM actions the tasks call through that role (stacks/workload_actions.py, generated from
the calls recorded in every wave's embedded runs; the least-privilege comparison of `make test` fails
when the recordings and those lists disagree), on `*`: the resources are the migrated estate's, named in
the waves' runbooks or found by tag at run time, in accounts and regions this stack does not own.
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from stacks.constructs.compliance import NIST, PCI
from stacks.constructs.nag import acknowledge

ASSUMED_SESSION = Duration.hours(1)


class CrossAccountRoleStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        role_name: str,
        tooling_account: str,
        trusted_role_names: list[str],
        external_id: str,
        actions: list[str],
        **kwargs,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        trusted = [
            f"arn:{self.partition}:iam::{tooling_account}:role/{name}" for name in sorted(trusted_role_names)
        ]
        self.role = iam.Role(
            self,
            "WorkloadRole",
            role_name=role_name,
            description="wavectl task functions of the tooling account (named roles, external id)",
            assumed_by=iam.AccountPrincipal(tooling_account).with_conditions(
                {"StringEquals": {"sts:ExternalId": external_id}, "ArnEquals": {"aws:PrincipalArn": trusted}}
            ),
            max_session_duration=ASSUMED_SESSION,
        )
        self.role.add_to_policy(
            iam.PolicyStatement(sid="WhatTheTasksCallHere", actions=sorted(set(actions)), resources=["*"])
        )
        acknowledge(
            self.role,
            "AwsSolutions-IAM5[Resource::*]",
            "The migrated estate's resources (databases, snapshots, buckets, records, functions) are named "
            "in the waves' runbooks or found by tag at run time, in regions this stack does not own; the "
            "actions are exactly those the tasks call through this role (stacks/workload_actions.py, held "
            "against the recorded calls by the least-privilege comparison).",
        )
        for pack in (PCI, NIST):
            acknowledge(
                self.role,
                f"{pack}-IAMNoInlinePolicy",
                "The role's one statement is created and deleted with it; a managed policy would be attached "
                "to nothing else.",
            )


def side_of(role_arn: str, source_arn: str, target_arn: str) -> str:
    """`source`, `target`, or `<account>-<role name>` for another role (a retention account's)."""
    if role_arn == source_arn:
        return "source"
    if role_arn == target_arn:
        return "target"
    return f"{role_arn.split(':')[4]}-{role_arn.rsplit('/', 1)[-1]}"
