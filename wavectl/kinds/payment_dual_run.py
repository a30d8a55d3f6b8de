"""Wave kind `payment-dual-run`: both platforms process the same payments, reconciled day by day.

The wave drives the program's `payment_bridge:` (its buckets, rules and connector are not repeated
here): it switches the bridge on, reconciles each business day's settled payments of the old
platform against the new owner's acknowledgements, and switches the primary flag to `new` after
enough consecutive clean days.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from tasks.contracts import encode_spec
from wavectl.kinds.spec import KindSpec
from wavectl.model import Duration, Model, Program, Region, ResidencyTarget, WaveBase, format_duration
from wavectl.yamlpos import Loc

DATE_PLACEHOLDER = "{date}"
_SSM_NAME = re.compile(r"^/?[A-Za-z0-9_.\-/]{1,1000}$")


def _day_key(value: str) -> str:
    if DATE_PLACEHOLDER not in value:
        raise ValueError(f"the key must contain {DATE_PLACEHOLDER} (the business day, YYYY-MM-DD)")
    if value.startswith("/"):
        raise ValueError("an S3 key does not start with '/'")
    return value


class DualRunPayments(Model):
    region: Region = Field(description="region of the old platform's settlement bucket")
    data_class: str = Field(description="residency data class of the settled payments")
    old_bucket: str = Field(description="the old platform's bucket (source account) with its settled files")
    old_key: str = Field(
        default="settled/{date}.csv", description="the old platform's settled payments of one business day"
    )
    ack_key: str = Field(
        default="daily/{date}.ack.csv",
        description="the new owner's acknowledgements of one business day, in the bridge's "
        "acknowledgements bucket",
    )
    key: str = Field(default="end_to_end_id", description="canonical field payments are matched on")
    tolerance_minor: int = Field(default=0, ge=0, description="amount tolerance in minor units")
    statuses: dict[str, list[str]] = Field(
        default_factory=dict, description="old status code -> the new codes that agree with it"
    )
    first_business_day: date = Field(description="the business day of the first cycle")
    required_clean_cycles: int = Field(
        default=3, ge=1, description="consecutive clean days before the switch"
    )
    max_cycles: int = Field(default=10, ge=1, description="dual-run days at most before giving up")
    shadow_cycles: int = Field(default=2, ge=0, description="days reconciled after the switch")
    file_deadline: Duration = Field(
        default=6 * 3600,
        description="how long a cycle waits for both files (a callback resumed by their S3 events)",
    )
    partition_above_mb: int = Field(
        default=1024,
        ge=0,
        description="a day whose two files together exceed this many MB is reconciled in hash partitions "
        "(a Step Functions Distributed Map) instead of one Lambda",
    )
    partitions: int = Field(default=16, ge=2, le=1024, description="hash partitions of a partitioned day")
    primary_flag: str = Field(description="SSM parameter (tooling account) naming the primary: old | new")
    switch_bridge_off_on_rollback: bool = Field(
        default=False, description="a rollback also switches the bridge off (else it keeps running)"
    )

    _keys = field_validator("old_key", "ack_key")(classmethod(lambda cls, v: _day_key(v)))

    @field_validator("primary_flag")
    @classmethod
    def _flag_name(cls, value: str) -> str:
        if not _SSM_NAME.match(value):
            raise ValueError("not an SSM parameter name (letters, digits, _ . - /)")
        return value

    @model_validator(mode="after")
    def _cycles_fit(self) -> DualRunPayments:
        if self.max_cycles < self.required_clean_cycles:
            raise ValueError(
                f"max_cycles ({self.max_cycles}) is fewer than required_clean_cycles "
                f"({self.required_clean_cycles}): the switch could never happen"
            )
        return self

    def reconcile_rules(self) -> dict[str, Any]:
        """Keyword arguments of tasks.payments.reconcile.ReconcileRules."""
        return {
            "key": self.key,
            "tolerance_minor": self.tolerance_minor,
            "status_mapping": {old: tuple(new) for old, new in self.statuses.items()},
        }


class PaymentDualRunWave(WaveBase):
    kind: Literal["payment-dual-run"]
    payments: DualRunPayments


def task_spec(wave: PaymentDualRunWave, program: Program) -> dict[str, Any]:
    """What the task functions read (tasks.payment_dual_run.spec): durations in seconds."""
    p = wave.payments
    bridge = program.payment_bridge
    assert bridge is not None, "program_checks require a payment_bridge"
    return {
        "program": program.program,
        "home_region": program.home_region,
        "old": {"bucket": p.old_bucket, "region": p.region, "key": p.old_key},
        "ack": {
            "bucket": bridge.buckets.acknowledgements.name,
            "region": bridge.buckets.acknowledgements.region,
            "key": p.ack_key,
        },
        "bridge_buckets": {role: getattr(bridge.buckets, role).name for role in BRIDGE_BUCKET_ROLES},
        "rules": {**p.reconcile_rules(), "status_mapping": p.statuses},
        "first_business_day": p.first_business_day.isoformat(),
        "required_clean_cycles": p.required_clean_cycles,
        "max_cycles": p.max_cycles,
        "shadow_cycles": p.shadow_cycles,
        "file_deadline": p.file_deadline,
        "partition_above_mb": p.partition_above_mb,
        "partitions": p.partitions,
        "primary_flag": p.primary_flag,
        "switch_bridge_off_on_rollback": p.switch_bridge_off_on_rollback,
    }


BRIDGE_BUCKET_ROLES = ("inbound", "outbound", "quarantine", "acknowledgements")


def encoded_task_spec(wave: PaymentDualRunWave, program: Program) -> str:
    return encode_spec(task_spec(wave, program))


def describe(wave: PaymentDualRunWave) -> str:
    p = wave.payments
    statuses = ", ".join(f"{old}->{'/'.join(new)}" for old, new in p.statuses.items()) or "same codes"
    lines = [
        f"Dual run from {p.first_business_day}: each business day, wait up to",
        f"  {format_duration(p.file_deadline)} for s3://{p.old_bucket}/{p.old_key}",
        f"  and the bridge acknowledgements {p.ack_key},",
        f"  then reconcile on {p.key} (tolerance {p.tolerance_minor} minor units).",
        f"Statuses: {statuses}",
        f"Switch {p.primary_flag} to new after {p.required_clean_cycles} clean day(s)",
        f"  (at most {p.max_cycles} days), then {p.shadow_cycles} shadow day(s).",
        "Rollback: flag back to old"
        + ("; bridge switched off." if p.switch_bridge_off_on_rollback else "; the bridge keeps running."),
    ]
    return "\n".join(lines)


def residency_targets(wave: PaymentDualRunWave) -> list[ResidencyTarget]:
    return [ResidencyTarget(("payments", "region"), "region", wave.payments.region, wave.payments.data_class)]


def program_checks(program: Program, wave: PaymentDualRunWave) -> list[tuple[Loc, str]]:
    if getattr(program, "payment_bridge", None) is None:
        return [(("payments",), "a payment-dual-run wave needs the program's payment_bridge: section")]
    return []


SPEC = KindSpec(
    model=PaymentDualRunWave,
    describe=describe,
    residency_targets=residency_targets,
    program_checks=program_checks,
)
