"""Write-once evidence: the one grant every evidence writer gets (PutObject under its prefix, SSE-KMS)."""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms

from stacks.constructs.nag import acknowledge


def grant_evidence_write(
    role: iam.IRole, *, sid: str, objects_arn: str, nag_resource: str, key: kms.IKey, what: str
) -> None:
    """`s3:PutObject` on `objects_arn` only, and data keys of the program key to encrypt what it puts.

    `nag_resource` is how cdk-nag spells `objects_arn` in its finding id; `what` says, for the
    reviewer, which prefix and why a wildcard below it is needed.
    """
    role.add_to_principal_policy(
        iam.PolicyStatement(sid=sid, actions=["s3:PutObject"], resources=[objects_arn])
    )
    role.add_to_principal_policy(
        iam.PolicyStatement(sid=f"{sid}Key", actions=["kms:GenerateDataKey"], resources=[key.key_arn])
    )
    acknowledge(role, f"AwsSolutions-IAM5[Resource::{nag_resource}]", f"PutObject only, {what}.")
