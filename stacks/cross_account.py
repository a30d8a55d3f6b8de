"""The role wavectl's task functions assume in the source or the target account: one small stack per
account, deployed into that account (`cdk deploy <program>-cross-account-source`, with credentials of
that account).

Trust: only the tooling account's task roles that assume it, each by name (`aws:PrincipalArn`), and only
with the program's external id (`sts:ExternalId`: `accounts.external_id` in program.yaml, else
`wavectl-<program>`; see docs/security.md). The principal is the tooling account with that condition,
not the roles' ARNs, so the stack deploys before the tooling account's roles exist (IAM resolves a role
principal to its unique id at policy time).

Permissions: the actions the tasks call in that account (derived from the calls of every wave's embedded
runs, tests/stacks/test_cross_account.py), on `*` where the resources are the migrated estate's and are
only known at run time.
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from stacks.constructs.nag import acknowledge
from wavectl.model import RoleAccount

NIST = "NIST.800.53.R5"
PCI = "PCI.DSS.321"


class CrossAccountRoleStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        account: RoleAccount,
        tooling_account: str,
        trusted_role_arns: list[str],
        external_id: str,
        actions: list[str],
        **kwargs,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.role = iam.Role(
            self,
            "WorkloadRole",
            role_name=account.role,
            description="wavectl task functions of the tooling account (named roles, external id)",
            assumed_by=iam.AccountPrincipal(tooling_account).with_conditions(
                {
                    "StringEquals": {"sts:ExternalId": external_id},
                    "ArnEquals": {"aws:PrincipalArn": sorted(trusted_role_arns)},
                }
            ),
            max_session_duration=Duration.hours(1),
        )
        self.role.add_to_policy(
            iam.PolicyStatement(sid="WhatTheTasksCallHere", actions=sorted(actions), resources=["*"])
        )
        acknowledge(
            self.role,
            "AwsSolutions-IAM5[Resource::*]",
            "The migrated estate's resources (databases, snapshots, buckets, records, functions) are named "
            "in the runbook's waves and found by tag at run time; the actions are exactly those the tasks "
            "call in this account (tests/stacks/test_cross_account.py).",
        )
        for pack in (PCI, NIST):
            acknowledge(
                self.role,
                f"{pack}-IAMNoInlinePolicy",
                "The role's one statement is created and deleted with it; a managed policy would be "
                "attached to nothing else.",
            )
