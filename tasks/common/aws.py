"""boto3 sessions for task functions: the function's own, and assumed roles in other accounts.

All sessions share one botocore model loader per process, so a warm Lambda (or the embedded
runner, which runs every task in one process) parses each service model once instead of per session.
"""

from __future__ import annotations

from functools import cache

import boto3
import botocore.loaders
import botocore.session
from botocore.config import Config

from tasks.common.settings import setting
from tasks.contracts import ENV_WORKLOAD_EXTERNAL_ID


@cache
def _shared_loader() -> botocore.loaders.Loader:
    return botocore.loaders.create_loader()


# Throttling, 5xx and lost responses are retried by the SDK (standard mode: exponential back-off with
# jitter, capped at 20 s). A migration step waits rather than fails on a busy control plane.
RETRIES = Config(retries={"mode": "standard", "max_attempts": 8})


def _session(region: str, credentials: dict[str, str] | None = None) -> boto3.Session:
    core = botocore.session.get_session()
    core.register_component("data_loader", _shared_loader())
    core.set_default_client_config(RETRIES)
    if credentials is None:
        return boto3.Session(botocore_session=core, region_name=region)
    return boto3.Session(
        botocore_session=core,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=region,
    )


def own_session(region: str | None = None) -> boto3.Session:
    """The task function's own credentials (its execution role, in the tooling account)."""
    return _session(region or setting("AWS_REGION", setting("AWS_DEFAULT_REGION", "eu-west-1")))


def assume_role_arguments(role_arn: str, session_name: str) -> dict[str, str]:
    """sts:AssumeRole parameters for a source or target role: with the program's external id, which
    those roles' trust policies require (stacks/cross_account.py)."""
    arguments = {"RoleArn": role_arn, "RoleSessionName": session_name[:64]}
    external_id = setting(ENV_WORKLOAD_EXTERNAL_ID, "")
    return {**arguments, "ExternalId": external_id} if external_id else arguments


def assumed_session(role_arn: str, region: str, session_name: str) -> boto3.Session:
    """A session in another account through sts:AssumeRole (the runbook's source/target role)."""
    sts = own_session(region).client("sts")
    credentials = sts.assume_role(**assume_role_arguments(role_arn, session_name))["Credentials"]
    return _session(region, credentials)
