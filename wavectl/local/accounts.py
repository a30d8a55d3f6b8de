"""The program's three accounts in the embedded AWS: tooling, source and target.

Workflows and task functions live in the tooling account (moto's default account while the engine
runs). The runbook's source and target roles are created in their accounts, trusting the tooling
account, so tasks reach them with `sts:AssumeRole` exactly as on AWS: moto serves each call in the
account of the assumed-role credentials.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from functools import cache
from typing import Any

import boto3
import botocore.loaders
import botocore.session

from wavectl.runbook import Runbook

FAKE_ACCESS_KEY = "testing"
FAKE_SECRET_KEY = "testing"
ACCOUNT_HEADER = "x-moto-account-id"


@dataclass(frozen=True)
class ProgramAccounts:
    tooling: str
    source: str
    target: str
    source_role_arn: str
    target_role_arn: str


def program_accounts(runbook: Runbook) -> ProgramAccounts:
    accounts = runbook.program.accounts
    return ProgramAccounts(
        tooling=accounts.tooling,
        source=accounts.source.id,
        target=accounts.target.id,
        source_role_arn=accounts.source.role_arn(),
        target_role_arn=accounts.target.role_arn(),
    )


@cache
def _shared_loader() -> botocore.loaders.Loader:
    return botocore.loaders.create_loader()


def _new_core_session() -> botocore.session.Session:
    core = botocore.session.get_session()
    core.register_component("data_loader", _shared_loader())
    return core


def new_session(region: str, **credentials: str) -> boto3.Session:
    """A boto3 session sharing one model loader (building a client is then ~10x faster)."""
    core = _new_core_session()
    credentials = credentials or {
        "aws_access_key_id": FAKE_ACCESS_KEY,
        "aws_secret_access_key": FAKE_SECRET_KEY,
    }
    return boto3.Session(botocore_session=core, region_name=region, **credentials)


class SharedClientsSession(boto3.Session):
    """A session of the embedded AWS whose clients are built once per service and region, then reused.

    Building a botocore client costs tens of milliseconds; a start of the embedded AWS asked for about
    seventy, and the runner's gate answerer asked for one four times a second. Clients are thread-safe
    once built; building them is not, so that happens under a lock.
    """

    def __init__(self, region: str, account: str | None = None) -> None:
        super().__init__(
            botocore_session=_new_core_session(),
            region_name=region,
            aws_access_key_id=FAKE_ACCESS_KEY,
            aws_secret_access_key=FAKE_SECRET_KEY,
        )
        self._clients: dict[tuple[str, str | None], Any] = {}
        self._lock = threading.Lock()
        if account is not None:  # an administrator of that account; else moto's default (tooling) account

            def add_account_header(request, **_kwargs) -> None:
                request.headers[ACCOUNT_HEADER] = account

            self.events.register("request-created", add_account_header)

    def client(self, service_name: str, region_name: str | None = None, **options: Any) -> Any:
        with self._lock:
            if options:  # a client with its own configuration is not shared
                return super().client(service_name, region_name=region_name, **options)
            key = (service_name, region_name)
            if key not in self._clients:
                self._clients[key] = super().client(service_name, region_name=region_name)
            return self._clients[key]


_shared_sessions: dict[tuple[str | None, str], SharedClientsSession] = {}
_shared_sessions_lock = threading.Lock()


def _shared_session(account: str | None, region: str) -> SharedClientsSession:
    with _shared_sessions_lock:
        if (account, region) not in _shared_sessions:
            _shared_sessions[(account, region)] = SharedClientsSession(region, account)
        return _shared_sessions[(account, region)]


def account_session(account: str, region: str) -> boto3.Session:
    """An administrator's session in `account` of the embedded AWS (for seeding and tests only)."""
    return _shared_session(account, region)


def tooling_session(region: str) -> boto3.Session:
    """A session in the tooling account (moto's default account while the engine runs)."""
    return _shared_session(None, region)


def forget_account_sessions() -> None:
    """A new embedded AWS starts with new sessions (nothing carries over between clouds)."""
    with _shared_sessions_lock:
        _shared_sessions.clear()


def _trust_policy(tooling: str, external_id: str) -> str:
    """The tooling account may assume the role with the program's external id, as on AWS
    (stacks/cross_account.py; the embedded STS enforces the condition: `refuse_wrong_external_id`)."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{tooling}:root"},
                    "Action": "sts:AssumeRole",
                    "Condition": {"StringEquals": {"sts:ExternalId": external_id}},
                }
            ],
        }
    )


def required_external_id(role_arn: str) -> str | None:
    """The sts:ExternalId the trust policy of `role_arn` requires in the embedded AWS (None: none)."""
    from moto.iam.models import iam_backends

    account, name = role_arn.split(":")[4], role_arn.rsplit("/", 1)[-1]
    role = next((r for r in iam_backends[account]["aws"].roles.values() if r.name == name), None)
    if role is None:
        return None
    policy = json.loads(role.assume_role_policy_document)
    for statement in policy.get("Statement", []):
        required = statement.get("Condition", {}).get("StringEquals", {}).get("sts:ExternalId")
        if required is not None:
            return str(required)
    return None


def refuse_wrong_external_id(original: Any) -> Any:
    """moto's STS `assume_role`, refusing a call without the external id the role's trust policy
    requires (moto does not evaluate trust policies): the cross-account path is as strict as on AWS."""

    def assume_role(self: Any, **kwargs: Any) -> Any:
        from moto.sts.exceptions import STSClientError

        required = required_external_id(str(kwargs.get("role_arn", "")))
        if required is not None and kwargs.get("external_id") != required:
            raise STSClientError(
                "AccessDenied", f"not authorized to perform sts:AssumeRole on {kwargs.get('role_arn')}"
            )
        return original(self, **kwargs)

    return assume_role


_WORKLOAD_POLICY = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
)


def create_workload_roles(runbook: Runbook, region: str) -> None:
    """The runbook's source and target roles in their accounts, assumable from the tooling account."""
    accounts = runbook.program.accounts
    for account in (accounts.source, accounts.target):
        iam = account_session(account.id, region).client("iam")
        iam.create_role(
            RoleName=account.role,
            AssumeRolePolicyDocument=_trust_policy(accounts.tooling, runbook.program.workload_external_id),
            Description="wavectl tasks assume this role from the tooling account (local rehearsal)",
        )
        iam.put_role_policy(
            RoleName=account.role, PolicyName="wavectl-local", PolicyDocument=_WORKLOAD_POLICY
        )


def assumed_session(
    role_arn: str, region: str, session_name: str = "wavectl-local", external_id: str | None = None
) -> boto3.Session:
    """A session in another account through sts:AssumeRole from the tooling account (as tasks do,
    with the program's external id for the source and target roles)."""
    arguments = {"RoleArn": role_arn, "RoleSessionName": session_name}
    if external_id is not None:
        arguments["ExternalId"] = external_id
    credentials = tooling_session(region).client("sts").assume_role(**arguments)["Credentials"]
    return new_session(
        region,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )
