"""The runbook model pieces every wave kind shares: the program file, approval policy, the wave base.

Each wave kind's own section model lives in `wavectl/kinds/<kind>.py` and builds on `WaveBase`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from wavectl.bridge_model import PaymentBridgeSettings
from wavectl.yamlpos import Loc

_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: Any) -> int:
    """`90s`, `15m`, `4h`, `2d` (or a plain number of seconds) -> seconds."""
    if isinstance(value, bool):
        raise ValueError(f"invalid duration {value!r}: use a number and a unit, e.g. 90s, 15m, 4h, 2d")
    if isinstance(value, int) and value > 0:
        return value
    match = _DURATION.match(str(value))
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"invalid duration {value!r}: use a number and a unit, e.g. 90s, 15m, 4h, 2d")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def format_duration(seconds: int) -> str:
    for unit in ("d", "h", "m"):
        if seconds % _UNIT_SECONDS[unit] == 0:
            return f"{seconds // _UNIT_SECONDS[unit]}{unit}"
    return f"{seconds}s"


Duration = Annotated[
    int,
    BeforeValidator(parse_duration),
    WithJsonSchema({"type": "string", "pattern": r"^[0-9]+[smhd]$", "examples": ["90s", "15m", "4h", "2d"]}),
]
Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,38}[a-z0-9]$")]
AccountId = Annotated[str, Field(pattern=r"^[0-9]{12}$")]
Region = Annotated[str, Field(pattern=r"^[a-z]{2}(-gov)?-[a-z]+-[0-9]$")]
SlackUserId = Annotated[str, Field(pattern=r"^[UW][A-Z0-9]{2,}$")]
RoleName = Annotated[str, Field(pattern=r"^[A-Za-z0-9+=,.@_-]{1,64}$")]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ----------------------------------------------------------------------------- program


class RoleAccount(Model):
    id: AccountId
    role: RoleName = Field(description="IAM role wavectl's tasks assume in this account")

    def role_arn(self) -> str:
        return f"arn:aws:iam::{self.id}:role/{self.role}"


ExternalId = Annotated[str, Field(pattern=r"^[A-Za-z0-9+=,.@:/_-]{2,1224}$")]


class Accounts(Model):
    tooling: AccountId = Field(description="account where the workflows and task functions run")
    source: RoleAccount
    target: RoleAccount
    external_id: ExternalId | None = Field(
        default=None,
        description="sts:ExternalId the source and target roles require of wavectl's tasks "
        "(default: wavectl-<program>)",
    )


IamRoleArn = Annotated[str, Field(pattern=r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$")]


class Operators(Model):
    """The people's roles the program key's policy names (docs/security.md, "The program key")."""

    roles: list[IamRoleArn] = Field(
        min_length=1,
        description="IAM roles of the tooling account that operators use to start waves and read their "
        "history, evidence and approvals; the program key lets these (and the tool's own roles) use it",
    )
    key_admins: list[IamRoleArn] = Field(
        min_length=1,
        description="break-glass roles of the tooling account that may administer the program key (its "
        "policy, rotation, deletion) but not use it; they must exist before the first deploy",
    )


class SlackSettings(Model):
    channel: Annotated[str, Field(pattern=r"^[CG][A-Z0-9]{2,}$")]
    signing_secret: str = Field(description="Secrets Manager name of the Slack signing secret")
    bot_token: str = Field(description="Secrets Manager name of the Slack bot token")


class Approver(Model):
    slack: SlackUserId
    name: str | None = None
    iam: list[str] = Field(
        default_factory=list,
        description="IAM/STS ARNs of this person, for the `wavectl approve` fallback",
    )


def _approver_shorthand(value: Any) -> Any:
    return {"slack": value} if isinstance(value, str) else value


ApproverEntry = Annotated[Approver, BeforeValidator(_approver_shorthand)]


class FreezeWindow(Model):
    name: str
    start: datetime
    end: datetime

    @model_validator(mode="after")
    def _ordered(self) -> FreezeWindow:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError(f"freeze window '{self.name}' needs explicit time zones (e.g. ...Z)")
        if self.end <= self.start:
            raise ValueError(f"freeze window '{self.name}' ends before it starts")
        return self


class Program(Model):
    program: Name
    description: str = ""
    home_region: Region = Field(description="region of the control plane and the wave workflows")
    accounts: Accounts
    operators: Operators
    residency: dict[str, list[Region]] = Field(description="data class -> regions its data may live in")
    slack: SlackSettings
    approvers: dict[str, list[ApproverEntry]]
    freeze: list[FreezeWindow] = Field(default_factory=list)
    payment_bridge: PaymentBridgeSettings | None = Field(
        default=None,
        description="the payment bridge: infrastructure the payment-dual-run wave switches on and off",
    )

    def group(self, name: str) -> list[Approver]:
        return self.approvers.get(name, [])

    @field_validator("operators")
    @classmethod
    def _operators_in_the_tooling_account(cls, operators: Operators, info: ValidationInfo) -> Operators:
        accounts = info.data.get("accounts")
        if accounts is None:
            return operators
        tooling = accounts.tooling
        for field in ("roles", "key_admins"):
            for arn in getattr(operators, field):
                if arn.split(":")[4] != tooling:
                    raise ValueError(
                        f"{field}: {arn} is not a role of the tooling account ({tooling}); the program "
                        "key's policy names roles of the account it lives in"
                    )
        return operators

    @property
    def workload_external_id(self) -> str:
        """The sts:ExternalId tasks pass when they assume the source and target roles, and those
        roles' trust policies require: `accounts.external_id`, else derived from the program name."""
        return self.accounts.external_id or f"wavectl-{self.program}"


# ----------------------------------------------------------------------------- waves


class ApprovalPolicy(Model):
    group: str
    required: int = Field(ge=1)
    timeout: Duration = 4 * 3600
    remind_after: Duration | None = None
    escalate_after: Duration | None = None
    escalate_to: str | None = None

    @model_validator(mode="after")
    def _times_ordered(self) -> ApprovalPolicy:
        for name in ("remind_after", "escalate_after"):
            value = getattr(self, name)
            if value is not None and value >= self.timeout:
                raise ValueError(f"{name} must be shorter than timeout ({format_duration(self.timeout)})")
        if self.escalate_after is not None and self.escalate_to is None:
            raise ValueError("escalate_after needs escalate_to (the backup approver group)")
        return self


class WaveBase(Model):
    """What every wave file has; each kind's model (wavectl/kinds/) adds `kind` and its own section."""

    wave: Name
    kind: str
    version: int = Field(ge=1, description="runbook version of this wave; bump it with every change")
    description: str = ""
    depends_on: list[str] = Field(default_factory=list)
    approval: ApprovalPolicy
    requester: Literal["verified", "unverified"] = Field(
        "verified",
        description="verified: gates open only once CloudTrail names who started the execution "
        "(four eyes from the first vote); unverified: after 15 minutes without it, gates open with "
        "the input's requested_by as the requester",
    )


@dataclass(frozen=True)
class ResidencyTarget:
    """A place a wave puts data: `loc` (path in the wave file) names the region field."""

    loc: Loc
    field: str
    region: str
    data_class: str

    @property
    def data_class_loc(self) -> Loc:
        return (*self.loc[:-1], "data_class")
