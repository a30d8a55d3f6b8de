"""Where the wave acts: the tooling account (bridge, acknowledgements, primary flag, evidence) with the
function's own role, and the source account (the old platform's bucket) through the runbook's role."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tasks.common.aws import assumed_session, own_session
from tasks.common.settings import setting
from tasks.contracts import (
    BRIDGE_INBOUND_RULE,
    BRIDGE_TRANSFER_TASK,
    ENV_BRIDGE_CONNECTOR_ID,
    ENV_SOURCE_ROLE_ARN,
    ENV_WAVE,
    bridge_resource_name,
)


@dataclass
class Estate:
    spec: dict[str, Any]
    task: str
    _clients: dict[tuple[str, str, str], Any] = field(default_factory=dict, repr=False)

    def client(self, side: str, service: str, region: str | None = None) -> Any:
        """side: `own` (tooling account) or `source` (the old platform's account)."""
        region = region or self.spec["home_region"]
        key = (side, service, region)
        if key not in self._clients:
            if side == "source":
                name = f"wavectl-{setting(ENV_WAVE)}-{self.task}"
                session = assumed_session(setting(ENV_SOURCE_ROLE_ARN), region, name)
            else:
                session = own_session(region)
            self._clients[key] = session.client(service)
        return self._clients[key]

    @property
    def inbound_rule(self) -> str:
        return bridge_resource_name(self.spec["program"], BRIDGE_INBOUND_RULE)

    @property
    def transfer_function(self) -> str:
        return f"{self.spec['program']}-{BRIDGE_TRANSFER_TASK}"[:64]

    def events(self) -> Any:
        return self.client("own", "events")

    def ssm(self) -> Any:
        return self.client("own", "ssm")

    def s3_for(self, side: str) -> Any:
        """S3 client for the `old` file (source account) or the `ack` file (tooling account)."""
        where = self.spec[side]
        return self.client("source" if side == "old" else "own", "s3", where["region"])

    def read_flag(self) -> str | None:
        try:
            return self.ssm().get_parameter(Name=self.spec["primary_flag"])["Parameter"]["Value"]
        except self.ssm().exceptions.ParameterNotFound:
            return None

    def set_flag(self, value: str) -> None:
        self.ssm().put_parameter(Name=self.spec["primary_flag"], Value=value, Type="String", Overwrite=True)

    def rule_state(self) -> str | None:
        try:
            return self.events().describe_rule(Name=self.inbound_rule)["State"]
        except self.events().exceptions.ResourceNotFoundException:
            return None

    def connector_id(self) -> str | None:
        """The SFTP connector the bridge's transfer function sends with (from its configuration)."""
        lam = self.client("own", "lambda")
        try:
            config = lam.get_function_configuration(FunctionName=self.transfer_function)
        except lam.exceptions.ResourceNotFoundException:
            return None
        return (config.get("Environment") or {}).get("Variables", {}).get(ENV_BRIDGE_CONNECTOR_ID)
