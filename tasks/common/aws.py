"""boto3 sessions for task functions: the function's own, and assumed roles in other accounts.

All sessions share one botocore model loader per process, so a warm Lambda (or the embedded
runner, which runs every task in one process) parses each service model once instead of per session.

Sessions are kept per function (and, for assumed roles, per role, region and session name) and make
each client once, as AWS advises for Lambda ("initialise SDK clients outside the handler"): a warm
function polling RDS every round no longer assumes a role and builds its clients on each invocation.
An assumed session is made again 5 minutes before its credentials expire.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import boto3
import botocore.loaders
import botocore.session
from botocore.config import Config

from tasks.common.settings import setting
from tasks.contracts import ENV_WORKLOAD_EXTERNAL_ID, warm_generation


@cache
def _shared_loader() -> botocore.loaders.Loader:
    return botocore.loaders.create_loader()


# Throttling, 5xx and lost responses are retried by the SDK (standard mode: exponential back-off with
# jitter, capped at 20 s). A migration step waits rather than fails on a busy control plane.
RETRIES = Config(retries={"mode": "standard", "max_attempts": 8})


REUSE_MARGIN = timedelta(minutes=5)  # an assumed session is not used this close to its expiry


class ReusedSession(boto3.Session):
    """A session that makes each (service, region) client once and hands out that client again."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[tuple[str, str | None], Any] = {}
        self._clients_lock = threading.Lock()

    def client(self, service_name: str, region_name: str | None = None, *args: Any, **kwargs: Any) -> Any:
        if args or kwargs:  # a client with its own endpoint, config or credentials is not shared
            return super().client(service_name, region_name, *args, **kwargs)
        with self._clients_lock:
            key = (service_name, region_name)
            if key not in self._clients:
                self._clients[key] = super().client(service_name, region_name=region_name)
            return self._clients[key]


_kept: dict[tuple[str, ...], tuple[ReusedSession, datetime | None]] = {}
_kept_generation = [warm_generation()]
_kept_lock = threading.Lock()


def _kept_session(
    key: tuple[str, ...], make: Callable[[], tuple[ReusedSession, datetime | None]]
) -> ReusedSession:
    with _kept_lock:
        if _kept_generation[0] != warm_generation():  # a cold start (the embedded AWS started afresh)
            _kept.clear()
            _kept_generation[0] = warm_generation()
        found = _kept.get(key)
    if found is not None and (found[1] is None or found[1] - REUSE_MARGIN > datetime.now(UTC)):
        return found[0]
    session, expires = make()
    with _kept_lock:
        _kept[key] = (session, expires)
    return session


def _function_name() -> str:
    return setting("AWS_LAMBDA_FUNCTION_NAME", "")


def _session(region: str, credentials: dict[str, Any] | None = None) -> ReusedSession:
    core = botocore.session.get_session()
    core.register_component("data_loader", _shared_loader())
    core.set_default_client_config(RETRIES)
    if credentials is None:
        return ReusedSession(botocore_session=core, region_name=region)
    return ReusedSession(
        botocore_session=core,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=region,
    )


def own_session(region: str | None = None) -> ReusedSession:
    """The task function's own credentials (its execution role, in the tooling account)."""
    region = region or setting("AWS_REGION", setting("AWS_DEFAULT_REGION", "eu-west-1"))
    return _kept_session(("own", _function_name(), region), lambda: (_session(region), None))


def assume_role_arguments(role_arn: str, session_name: str) -> dict[str, str]:
    """sts:AssumeRole parameters for a source or target role: with the program's external id, which
    those roles' trust policies require (stacks/cross_account.py)."""
    arguments = {"RoleArn": role_arn, "RoleSessionName": session_name[:64]}
    external_id = setting(ENV_WORKLOAD_EXTERNAL_ID, "")
    return {**arguments, "ExternalId": external_id} if external_id else arguments


def assumed_session(role_arn: str, region: str, session_name: str) -> ReusedSession:
    """A session in another account through sts:AssumeRole (the runbook's source/target role)."""

    def assume() -> tuple[ReusedSession, datetime | None]:
        sts = own_session(region).client("sts")
        credentials = sts.assume_role(**assume_role_arguments(role_arn, session_name))["Credentials"]
        return _session(region, credentials), _aware(credentials.get("Expiration"))

    return _kept_session(("assumed", _function_name(), role_arn, region, session_name), assume)


def _aware(expiration: datetime | None) -> datetime | None:
    if expiration is None:
        return None
    return expiration if expiration.tzinfo else expiration.replace(tzinfo=UTC)
