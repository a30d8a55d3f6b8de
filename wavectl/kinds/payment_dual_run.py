"""Wave kind `payment-dual-run`: the runbook section (old and new payment pipelines side by side)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from wavectl.kinds.spec import KindSpec
from wavectl.model import Model, Region, ResidencyTarget, WaveBase


class PaymentFeed(Model):
    region: Region
    data_class: str
    old_bucket: str = Field(description="bucket the old platform writes payment files to (source account)")
    new_bucket: str = Field(description="bucket of the new pipeline's output (target account)")
    transfer_bucket: str = Field(description="bucket the secure transfer to the on-premise systems reads")
    prefix: str = "payments/"
    format: Literal["csv", "jsonl", "parquet"] = "csv"
    key_fields: list[str] = Field(default_factory=lambda: ["payment_id"])
    amount_field: str = "amount_cents"
    days: int = Field(default=5, ge=1, description="business days of clean dual-run before the switch")
    tolerance_cents: int = Field(default=0, ge=0)


class PaymentDualRunWave(WaveBase):
    kind: Literal["payment-dual-run"]
    payments: PaymentFeed


def describe(wave: PaymentDualRunWave) -> str:
    p = wave.payments
    return (
        f"dual-run payments {p.old_bucket} vs {p.new_bucket} ({p.format}) for {p.days} day(s), "
        f"reconcile on {', '.join(p.key_fields)} (tolerance {p.tolerance_cents} cents), then switch "
        f"the secure transfer to {p.transfer_bucket}"
    )


def residency_targets(wave: PaymentDualRunWave) -> list[ResidencyTarget]:
    return [ResidencyTarget(("payments", "region"), "region", wave.payments.region, wave.payments.data_class)]


SPEC = KindSpec(model=PaymentDualRunWave, describe=describe, residency_targets=residency_targets)
