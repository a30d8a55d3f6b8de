"""The log group and role every function and state machine of wavectl gets: its own, named, encrypted."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from stacks.constructs.compliance import acknowledge_own_role


def logged_role(
    scope: Construct,
    *,
    log_group_name: str,
    service: str,
    role_name: str,
    role_description: str,
    log_key: kms.IKey | None,
) -> tuple[logs.LogGroup, iam.Role]:
    """A one-year, KMS-encrypted, retained log group `Logs` and an empty role `Role` for `service`.

    The role has a fixed name (at most 64 characters), so that the program key's policy and the source
    and target accounts' trust policies can name it before it exists (docs/security.md)."""
    if len(role_name) > 64:
        raise ValueError(f"IAM role name {role_name!r} is longer than 64 characters")
    log_group = logs.LogGroup(
        scope,
        "Logs",
        log_group_name=log_group_name,
        retention=logs.RetentionDays.ONE_YEAR,
        encryption_key=log_key,
        removal_policy=RemovalPolicy.RETAIN,
    )
    role = iam.Role(
        scope,
        "Role",
        role_name=role_name,
        assumed_by=iam.ServicePrincipal(service),
        description=role_description,
    )
    acknowledge_own_role(role)
    return log_group, role
