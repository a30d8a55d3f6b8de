"""Who acts where: the source account (what is decommissioned) and each retention account."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3

from tasks.common.aws import assumed_session
from tasks.common.estate import Estate, account_of
from tasks.common.naming import Run
from tasks.common.settings import setting
from tasks.contracts import ENV_PROGRAM, ENV_SOURCE_ROLE_ARN, ENV_WAVE

RoleSession = Callable[[str, str], boto3.Session]  # (role ARN, region) -> session in the role's account


@dataclass
class Reach:
    """Sessions into the source account (per region) and into retention accounts (per role and region)."""

    source_account: str
    source_role_arn: str
    session_for: RoleSession
    _clients: dict[tuple[str, str, str], Any] = field(default_factory=dict, repr=False)
    _sessions: dict[tuple[str, str], boto3.Session] = field(default_factory=dict, repr=False)

    def source(self, service: str, region: str) -> Any:
        return self.client(self.source_role_arn, service, region)

    def client(self, role_arn: str, service: str, region: str) -> Any:
        key = (role_arn, service, region)
        if key not in self._clients:
            self._clients[key] = self.session(role_arn, region).client(service)
        return self._clients[key]

    def session(self, role_arn: str, region: str) -> boto3.Session:
        """One assumed-role session per (role, region) and task invocation: one sts:AssumeRole each."""
        if (role_arn, region) not in self._sessions:
            self._sessions[(role_arn, region)] = self.session_for(role_arn, region)
        return self._sessions[(role_arn, region)]

    def retention_estate(self, rule: dict[str, Any]) -> Estate:
        """The db-snapshot-copy estate whose target is the retention account (its steps are reused)."""
        return Estate(
            source_account=self.source_account,
            target_account=rule["account"],
            source_session=lambda region: self.session(self.source_role_arn, region),
            target_session=lambda region: self.session(rule["role_arn"], region),
        )

    def retention(self, rule: dict[str, Any], service: str, region: str | None = None) -> Any:
        return self.client(rule["role_arn"], service, region or rule["region"])


def reach_from_settings(task: str) -> Reach:
    source_role = setting(ENV_SOURCE_ROLE_ARN)
    name = f"wavectl-{setting(ENV_WAVE)}-{task}"
    return Reach(
        source_account=account_of(source_role),
        source_role_arn=source_role,
        session_for=lambda role, region: assumed_session(role, region, name),
    )


def run_from(event: dict[str, Any]) -> Run:
    return Run(program=setting(ENV_PROGRAM), wave=setting(ENV_WAVE), execution=str(event["execution"]))
