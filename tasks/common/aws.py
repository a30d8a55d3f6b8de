"""boto3 sessions for task functions: the function's own, and assumed roles in other accounts."""

from __future__ import annotations

import boto3

from tasks.common.settings import setting


def own_session(region: str | None = None) -> boto3.Session:
    return boto3.Session(
        region_name=region or setting("AWS_REGION", setting("AWS_DEFAULT_REGION", "eu-west-1"))
    )


def assumed_session(role_arn: str, region: str, session_name: str) -> boto3.Session:
    """A session in another account through sts:AssumeRole (the runbook's source/target role)."""
    credentials = (
        own_session(region)
        .client("sts")
        .assume_role(RoleArn=role_arn, RoleSessionName=session_name[:64])["Credentials"]
    )
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=region,
    )
