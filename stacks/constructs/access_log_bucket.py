"""The server-access-log bucket a KMS-encrypted bucket logs into: one definition for every stack."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.constructs.nag import acknowledge

PCI, NIST = "PCI.DSS.321", "NIST.800.53.R5"


def access_log_bucket(scope: Construct, construct_id: str, *, serves: str, retention_days: int) -> s3.Bucket:
    """A TLS-only, private, versioned bucket for S3 server access logs of `serves` (e.g. "the evidence
    bucket"), kept `retention_days` and retained when its stack is deleted."""
    bucket = s3.Bucket(
        scope,
        construct_id,
        encryption=s3.BucketEncryption.S3_MANAGED,  # S3 server access logs cannot be written with SSE-KMS
        enforce_ssl=True,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
        versioned=True,
        removal_policy=RemovalPolicy.RETAIN,
        lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(retention_days))],
    )
    acknowledge(
        bucket,
        "AwsSolutions-S1",
        f"This is the access-log bucket of {serves}; logging it to itself would loop.",
    )
    for pack in (PCI, NIST):
        acknowledge(
            bucket,
            f"{pack}-S3DefaultEncryptionKMS",
            "S3 server access logs can only be delivered to a bucket encrypted with SSE-S3 (AWS docs: "
            "'Amazon S3 server access logging: destination bucket encryption').",
        )
    return bucket
