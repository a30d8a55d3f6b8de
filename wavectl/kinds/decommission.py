"""Wave kind `decommission`: what to retire, how to prove nothing uses it, what the law says to keep.

decommission:
  scope: {regions: [...], tag: {key: wavectl:decommission, value: acme-legacy}, arns: [...],
          data_classes: [eu-payments, ...]}
  resource_types: [rds:db, rds:cluster, s3:bucket, lambda:function, ec2:instance,
                   elb:loadbalancer, dynamodb:table, route53:record]
  protected: {tag: wavectl:protected, arns: [...]}
  usage: {lookback: 30d, thresholds: {ec2:instance: 1048576}, accept_unproven: [route53:record]}
  retention:
    eu-payments: {account: "333333333333", region: eu-west-1, period: 7y, object_lock: compliance,
                  bucket: globex-retention-eu-payments, kms_key: alias/globex-rds,
                  shared_kms_key: alias/wavectl-share}
    public: {retain: false}
  cool_off: 7d
  abort_check: 12h
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from wavectl.kinds.spec import KindSpec
from wavectl.model import (
    AccountId,
    Duration,
    Model,
    Program,
    Region,
    ResidencyTarget,
    RoleName,
    WaveBase,
    format_duration,
)
from wavectl.yamlpos import Loc

ResourceType = Literal[
    "rds:db",
    "rds:cluster",
    "s3:bucket",
    "lambda:function",
    "ec2:instance",
    "elb:loadbalancer",
    "dynamodb:table",
    "route53:record",
]
ALL_TYPES: list[str] = list(ResourceType.__args__)  # type: ignore[attr-defined]
_PERIOD = re.compile(r"^\s*[1-9][0-9]*\s*[dy]\s*$")
_ARN = re.compile(r"^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:[0-9]*:.+$")


class ScopeTag(Model):
    key: str = "wavectl:decommission"
    value: str = Field(min_length=1)


class Scope(Model):
    regions: list[Region] = Field(min_length=1, description="regions searched for the scope tag")
    tag: ScopeTag | None = Field(default=None, description="resources carrying this tag are in scope")
    arns: list[str] = Field(
        default_factory=list,
        description="resources in scope by ARN (Route 53 records: "
        "arn:aws:route53:::hostedzone/<zone id or name>/recordset/<name>/<type>/<set id>)",
    )
    data_classes: list[str] = Field(
        min_length=1,
        description="data classes the resources in scope may carry "
        "(tag wavectl:data-class); each needs a retention rule",
    )

    @field_validator("arns")
    @classmethod
    def _arns(cls, arns: list[str]) -> list[str]:
        bad = [a for a in arns if not _ARN.match(a)]
        if bad:
            raise ValueError(f"not an ARN: {', '.join(bad)}")
        return arns

    @model_validator(mode="after")
    def _something(self) -> Scope:
        if self.tag is None and not self.arns:
            raise ValueError("scope needs a tag, ARNs, or both")
        return self


class Protected(Model):
    tag: str = "wavectl:protected"
    arns: list[str] = Field(default_factory=list)


class Usage(Model):
    lookback: Duration = Field(default=30 * 86400, description="how far back CloudWatch must show no use")
    thresholds: dict[ResourceType, float] = Field(
        default_factory=dict, description="per type, the most use still counted as unused (default 0)"
    )
    accept_unproven: list[ResourceType] = Field(
        default_factory=list, description="types that may pass without metrics (Route 53 records have none)"
    )


class RetentionRule(Model):
    retain: bool = True
    account: AccountId | None = None
    role: RoleName | None = Field(
        default=None, description="role in the retention account (default: the program's target role name)"
    )
    region: Region | None = None
    period: str | None = Field(default=None, description="e.g. 7y or 400d")
    object_lock: Literal["compliance"] = "compliance"
    bucket: str | None = Field(default=None, description="retention bucket (Object Lock on) for S3 data")
    kms_key: str | None = Field(default=None, description="retention account's key for final DB snapshots")
    shared_kms_key: str | None = Field(
        default=None, description="source key shared with the retention account"
    )

    @field_validator("period")
    @classmethod
    def _period(cls, value: str | None) -> str | None:
        if value is not None and not _PERIOD.match(value):
            raise ValueError(f"invalid retention period {value!r}: days or years, e.g. 400d or 7y")
        return value

    @model_validator(mode="after")
    def _complete(self) -> RetentionRule:
        if self.retain:
            missing = [
                n
                for n in ("account", "region", "period", "bucket", "kms_key", "shared_kms_key")
                if getattr(self, n) is None
            ]
            if missing:
                raise ValueError(f"a retention rule that retains needs {', '.join(missing)}")
        return self


class DecommissionSection(Model):
    scope: Scope
    resource_types: list[ResourceType] = Field(default_factory=lambda: list(ALL_TYPES))
    protected: Protected = Field(default_factory=Protected)
    usage: Usage = Field(default_factory=Usage)
    retention: dict[str, RetentionRule] = Field(
        description="data class -> where and how long its data is kept"
    )
    cool_off: Duration = Field(default=7 * 86400, description="disabled, restorable, before the final gate")
    abort_check: Duration = Field(
        default=3600, description="how often the cool-off looks for `wavectl abort`"
    )

    @model_validator(mode="after")
    def _consistent(self) -> DecommissionSection:
        named = sorted(set(self.scope.arns) & set(self.protected.arns))
        if named:
            raise ValueError(f"protected resource named in scope: {', '.join(named)}")
        missing = [c for c in self.scope.data_classes if c not in self.retention]
        if missing:
            raise ValueError(f"no retention rule for data class {', '.join(missing)} in scope")
        if self.abort_check > self.cool_off:
            raise ValueError("abort_check must not be longer than cool_off")
        return self


class DecommissionWave(WaveBase):
    kind: Literal["decommission"]
    decommission: DecommissionSection

    @model_validator(mode="after")
    def _four_eyes(self) -> DecommissionWave:
        if self.approval.required < 2:
            raise ValueError("a decommission needs approval.required of at least 2 (four eyes)")
        return self


def describe(wave: DecommissionWave) -> str:
    d = wave.decommission
    scope = [f"tag {d.scope.tag.key}={d.scope.tag.value}"] if d.scope.tag else []
    scope += [f"{len(d.scope.arns)} named ARN(s)"] if d.scope.arns else []
    lines = [
        f"retire {' and '.join(scope)}",
        f"  in {', '.join(d.scope.regions)}",
        *textwrap.wrap(f"types: {', '.join(d.resource_types)}", 78, subsequent_indent="  "),
        f"prove unused over {format_duration(d.usage.lookback)} of CloudWatch metrics",
    ]
    if d.usage.accept_unproven:
        lines.append(f"  (no proof needed: {', '.join(d.usage.accept_unproven)})")
    for data_class, rule in d.retention.items():
        if rule.retain:
            lines.append(
                f"keep {data_class}: {rule.account} {rule.region}, {rule.period}, Object Lock "
                f"{rule.object_lock}"
            )
        else:
            lines.append(f"keep {data_class}: nothing (retain: false)")
    lines.append(
        f"gate decommission ({wave.approval.required} approvers), disable, "
        f"cool-off {format_duration(d.cool_off)}"
    )
    lines.append(f"  (wavectl abort {wave.wave} restores), gate delete, delete")
    return "\n".join(lines)


def residency_targets(wave: DecommissionWave) -> list[ResidencyTarget]:
    return [
        ResidencyTarget(
            ("decommission", "retention", data_class, "region"), "retention region", rule.region, data_class
        )
        for data_class, rule in wave.decommission.retention.items()
        if rule.retain and rule.region
    ]


def program_checks(program: Program, wave: DecommissionWave) -> Iterable[tuple[Loc, str]]:
    for i, data_class in enumerate(wave.decommission.scope.data_classes):
        if data_class not in program.residency:
            yield (
                ("decommission", "scope", "data_classes", i),
                f"unknown data class '{data_class}' (program.yaml)",
            )


def task_spec(program: Program, wave: DecommissionWave) -> dict[str, Any]:
    """The section as the task functions read it (`tasks.decommission.spec`)."""
    d = wave.decommission
    return {
        "regions": list(d.scope.regions),
        "tag": d.scope.tag.model_dump() if d.scope.tag else None,
        "arns": list(d.scope.arns),
        "resource_types": list(d.resource_types),
        "protected": {"arns": list(d.protected.arns), "tag": d.protected.tag},
        "data_class_tag": "wavectl:data-class",
        "lookback_seconds": d.usage.lookback,
        "thresholds": dict(d.usage.thresholds),
        "accept_unproven": list(d.usage.accept_unproven),
        "retention": {c: _rule(program, r) for c, r in d.retention.items()},
        "cool_off_seconds": d.cool_off,
        "abort_check_seconds": d.abort_check,
    }


def retention_role_arn(program: Program, rule: RetentionRule) -> str:
    return f"arn:aws:iam::{rule.account}:role/{rule.role or program.accounts.target.role}"


def _rule(program: Program, rule: RetentionRule) -> dict[str, Any]:
    if not rule.retain:
        return {"retain": False}
    return {
        "retain": True,
        "account": rule.account,
        "role_arn": retention_role_arn(program, rule),
        "region": rule.region,
        "period": rule.period,
        "mode": rule.object_lock.upper(),
        "bucket": rule.bucket,
        "kms_key": rule.kms_key,
        "shared_kms_key": rule.shared_kms_key,
    }


SPEC = KindSpec(
    model=DecommissionWave,
    describe=describe,
    residency_targets=residency_targets,
    program_checks=program_checks,
)
