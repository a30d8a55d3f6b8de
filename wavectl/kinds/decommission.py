"""Wave kind `decommission`: the runbook section (what to retire, what to keep)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from wavectl.kinds.spec import KindSpec
from wavectl.model import Model, Region, WaveBase


class DecommissionScope(Model):
    regions: list[Region] = Field(min_length=1)
    tag_key: str = "wavectl:decommission"
    tag_value: str
    resource_types: list[str] = Field(default_factory=lambda: ["rds:db", "rds:cluster", "s3:bucket"])
    final_snapshot: bool = True
    retain_days: int = Field(default=30, ge=0)


class DecommissionWave(WaveBase):
    kind: Literal["decommission"]
    decommission: DecommissionScope


def describe(wave: DecommissionWave) -> str:
    d = wave.decommission
    snapshot = "final snapshots kept" if d.final_snapshot else "no final snapshots"
    return (
        f"retire {', '.join(d.resource_types)} tagged {d.tag_key}={d.tag_value} in {', '.join(d.regions)} "
        f"({snapshot}, {d.retain_days} days)"
    )


SPEC = KindSpec(model=DecommissionWave, describe=describe)
