"""Who acts where: the source and target accounts, each reached through the runbook's role."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import boto3

from tasks.common.aws import assume_role_arguments, own_session
from tasks.common.settings import setting
from tasks.contracts import ENV_PROGRAM, ENV_SOURCE_ROLE_ARN, ENV_TARGET_ROLE_ARN, ENV_WAVE

SIDES = ("source", "target")
ClientFor = Callable[[str, str, str], Any]  # (side, service, region) -> client in that account


@dataclass
class Reach:
    """Clients in the source and target accounts through their roles: the role is assumed once per
    account and task (credentials are not regional), one client per service and region."""

    roles: dict[str, str]  # side -> role ARN
    client_for: ClientFor
    _clients: dict[tuple[str, str, str], Any] = field(default_factory=dict, repr=False)

    def account(self, side: str) -> str:
        return self.roles[side].split(":")[4]

    def role_name(self, side: str) -> str:
        return self.roles[side].rsplit("/", 1)[-1]

    def client(self, side: str, service: str, region: str) -> Any:
        key = (side, service, region)
        if key not in self._clients:
            self._clients[key] = self.client_for(side, service, region)
        return self._clients[key]

    def route53(self, side: str) -> Any:
        return self.client(side, "route53", "us-east-1")  # Route 53 is global


@dataclass(frozen=True)
class Run:
    program: str
    wave: str
    execution: str  # the execution name (the last part of its ARN)


_client_lock = threading.Lock()  # a boto3 session makes clients in one thread at a time


@cache
def _base_session() -> boto3.Session:
    """One boto3 session per process (a warm Lambda container keeps it): making a botocore session
    costs more than the calls a watch poll makes. Clients take the assumed role's credentials."""
    return own_session()


def role_clients(roles: dict[str, str], session_name: str) -> ClientFor:
    """Clients through sts:AssumeRole of each side's role, assumed once per side."""
    credentials: dict[str, dict[str, str]] = {}

    def client_for(side: str, service: str, region: str) -> Any:
        with _client_lock:
            return _client(side, service, region)

    def _client(side: str, service: str, region: str) -> Any:
        base = _base_session()
        if side not in credentials:
            sts = base.client("sts", region_name=region)
            credentials[side] = sts.assume_role(**assume_role_arguments(roles[side], session_name))[
                "Credentials"
            ]
        found = credentials[side]
        return base.client(
            service,
            region_name=region,
            aws_access_key_id=found["AccessKeyId"],
            aws_secret_access_key=found["SecretAccessKey"],
            aws_session_token=found["SessionToken"],
        )

    return client_for


def reach_from_settings(task: str) -> Reach:
    """The accounts a deployed task function reaches through the runbook's roles (sts:AssumeRole)."""
    roles = {"source": setting(ENV_SOURCE_ROLE_ARN), "target": setting(ENV_TARGET_ROLE_ARN)}
    return Reach(roles=roles, client_for=role_clients(roles, f"wavectl-{setting(ENV_WAVE)}-{task}"))


def run_from(event: dict[str, Any]) -> Run:
    execution = str(event["execution"]).rsplit(":", 1)[-1]
    return Run(program=setting(ENV_PROGRAM), wave=setting(ENV_WAVE), execution=execution)
