"""Who acts where: the source and target accounts, each reached through the runbook's role."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3

from tasks.common.aws import assumed_session
from tasks.common.settings import setting
from tasks.contracts import ENV_PROGRAM, ENV_SOURCE_ROLE_ARN, ENV_TARGET_ROLE_ARN, ENV_WAVE

SIDES = ("source", "target")
SessionFor = Callable[[str, str], boto3.Session]  # (side, region) -> session in that account


@dataclass
class Reach:
    """Sessions into the source and target accounts through their roles, cached per region."""

    roles: dict[str, str]  # side -> role ARN
    session_for: SessionFor
    _clients: dict[tuple[str, str, str], Any] = field(default_factory=dict, repr=False)

    def account(self, side: str) -> str:
        return self.roles[side].split(":")[4]

    def role_name(self, side: str) -> str:
        return self.roles[side].rsplit("/", 1)[-1]

    def client(self, side: str, service: str, region: str) -> Any:
        key = (side, service, region)
        if key not in self._clients:
            self._clients[key] = self.session_for(side, region).client(service)
        return self._clients[key]

    def route53(self, side: str) -> Any:
        return self.client(side, "route53", "us-east-1")  # Route 53 is global


@dataclass(frozen=True)
class Run:
    program: str
    wave: str
    execution: str  # the execution name (the last part of its ARN)


def reach_from_settings(task: str) -> Reach:
    """The accounts a deployed task function reaches through the runbook's roles (sts:AssumeRole)."""
    roles = {"source": setting(ENV_SOURCE_ROLE_ARN), "target": setting(ENV_TARGET_ROLE_ARN)}
    name = f"wavectl-{setting(ENV_WAVE)}-{task}"
    return Reach(roles=roles, session_for=lambda side, region: assumed_session(roles[side], region, name))


def run_from(event: dict[str, Any]) -> Run:
    execution = str(event["execution"]).rsplit(":", 1)[-1]
    return Run(program=setting(ENV_PROGRAM), wave=setting(ENV_WAVE), execution=execution)
