"""Who acts where, for every wave kind: the source and target accounts, each through its own session."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3

from tasks.common.aws import assumed_session
from tasks.common.naming import Run
from tasks.common.settings import setting
from tasks.contracts import ENV_PROGRAM, ENV_SOURCE_ROLE_ARN, ENV_TARGET_ROLE_ARN, ENV_WAVE

SessionFor = Callable[[str], boto3.Session]  # region -> session in one account


@dataclass
class Estate:
    """Sessions into the source and target accounts (cached per region), and their account ids."""

    source_account: str
    target_account: str
    source_session: SessionFor
    target_session: SessionFor
    _clients: dict[tuple[str, str, str], Any] = field(default_factory=dict, repr=False)
    _sessions: dict[tuple[str, str], boto3.Session] = field(default_factory=dict, repr=False)

    def source(self, service: str, region: str) -> Any:
        return self._client("source", service, region)

    def target(self, service: str, region: str) -> Any:
        return self._client("target", service, region)

    def _client(self, side: str, service: str, region: str) -> Any:
        key = (side, service, region)
        if key not in self._clients:
            self._clients[key] = self._session(side, region).client(service)
        return self._clients[key]

    def _session(self, side: str, region: str) -> boto3.Session:
        if (side, region) not in self._sessions:
            session_for = self.source_session if side == "source" else self.target_session
            self._sessions[(side, region)] = session_for(region)
        return self._sessions[(side, region)]


def account_of(role_arn: str) -> str:
    return role_arn.split(":")[4]


def estate_from_settings(task: str) -> Estate:
    """The estate a deployed task function reaches through the runbook's roles (sts:AssumeRole)."""
    source_role, target_role = setting(ENV_SOURCE_ROLE_ARN), setting(ENV_TARGET_ROLE_ARN)
    name = f"wavectl-{setting(ENV_WAVE)}-{task}"
    return Estate(
        source_account=account_of(source_role),
        target_account=account_of(target_role),
        source_session=lambda region: assumed_session(source_role, region, name),
        target_session=lambda region: assumed_session(target_role, region, name),
    )


def run_from(event: dict[str, Any]) -> Run:
    return Run(program=setting(ENV_PROGRAM), wave=setting(ENV_WAVE), execution=str(event["execution"]))
