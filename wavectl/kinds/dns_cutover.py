"""Wave kind `dns-cutover`: the runbook section (a weighted Route 53 shift)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from wavectl.kinds.spec import KindSpec
from wavectl.model import Duration, Model, Region, WaveBase, format_duration


class DnsShift(Model):
    zone: str = Field(description="hosted zone name, e.g. example.com")
    record: str = Field(description="record to shift, e.g. api.example.com")
    old_target: str
    new_target: str
    steps: list[Annotated[int, Field(ge=0, le=100)]] = Field(
        default_factory=lambda: [10, 50, 100], description="percent of traffic on the new target, in order"
    )
    bake: Duration = 15 * 60
    alarms: list[str] = Field(default_factory=list, description="CloudWatch alarms that roll the shift back")
    ttl: int = Field(default=60, ge=1)

    @field_validator("steps")
    @classmethod
    def _increasing(cls, steps: list[int]) -> list[int]:
        if not steps or steps != sorted(steps) or steps[-1] != 100:
            raise ValueError("steps must increase and end at 100")
        return steps


class DnsCutoverWave(WaveBase):
    kind: Literal["dns-cutover"]
    region: Region
    dns: DnsShift


def describe(wave: DnsCutoverWave) -> str:
    dns = wave.dns
    steps = " -> ".join(f"{s}%" for s in dns.steps)
    alarms = ", ".join(dns.alarms) or "none"
    return (
        f"shift {dns.record} from {dns.old_target} to {dns.new_target}: {steps}, "
        f"baking {format_duration(dns.bake)} per step; roll back on alarms: {alarms}"
    )


SPEC = KindSpec(model=DnsCutoverWave, describe=describe)
