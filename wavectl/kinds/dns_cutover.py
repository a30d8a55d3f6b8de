"""The `dns-cutover` wave kind's runbook section: records shifted together by weighted steps."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from tasks.contracts import encode_spec
from wavectl.kinds.spec import KindSpec
from wavectl.model import Duration, Model, Region, WaveBase, format_duration

Account = Literal["source", "target"]
Percent = Annotated[int, Field(ge=1, le=100)]


class DnsZone(Model):
    name: str = Field(description="hosted zone name (acme-invest.example) or id (Z0123...)")
    account: Account = Field(default="source", description="the account that owns the zone")


class DnsRecord(Model):
    name: str = Field(description="record shifted, e.g. api.acme-invest.example")
    type: Literal["CNAME", "A", "AAAA"] = Field(
        default="CNAME", description="CNAME, or an alias A/AAAA record to a load balancer"
    )
    old_target: str = Field(description="the old platform's endpoint (CNAME value or load balancer DNS name)")
    new_target: str = Field(description="the new owner's endpoint")
    old_health_check: str | None = Field(default=None, description="Route 53 health check id of old_target")
    new_health_check: str | None = Field(default=None, description="Route 53 health check id of new_target")


class DnsAlarm(Model):
    name: str
    account: Account = "source"
    region: Region | None = Field(default=None, description="default: the wave's region")


class DnsCutover(Model):
    zone: DnsZone
    records: list[DnsRecord] = Field(min_length=1, description="shifted together, one change per step")
    steps: list[Percent] = Field(
        default_factory=lambda: [10, 25, 50, 100],
        description="percent on the new targets, strictly increasing, ending at 100",
    )
    gated_steps: list[Percent] | None = Field(
        default=None, description="steps preceded by an approval gate; default: the step to 100"
    )
    cutover_ttl: Duration = 60
    bake: Duration | list[Duration] = Field(
        default=15 * 60, description="one bake for every step, or one per step"
    )
    alarms: list[DnsAlarm] = Field(
        default_factory=list, description="CloudWatch alarms that roll the shift back"
    )
    alarm_poll: Duration = 30
    rollback_window: Duration = 24 * 3600
    final_ttl: Duration | None = Field(
        default=None, description="the TTL after the window; default: the original"
    )

    @field_validator("steps")
    @classmethod
    def _steps_increase_to_100(cls, steps: list[int]) -> list[int]:
        if not steps or any(b <= a for a, b in zip(steps, steps[1:], strict=False)):
            raise ValueError(f"steps {steps} must be strictly increasing")
        if steps[-1] != 100:
            raise ValueError(f"steps {steps} must end at 100")
        return steps

    @field_validator("gated_steps")
    @classmethod
    def _gated_steps_are_steps(cls, gated: list[int] | None, info: ValidationInfo) -> list[int] | None:
        steps = info.data.get("steps")
        if gated is not None and steps is not None:
            missing = [g for g in gated if g not in steps]
            if missing:
                raise ValueError(f"gated_steps {missing} not in steps {steps}")
        return gated

    @field_validator("bake")
    @classmethod
    def _bake_covers_the_ttl(cls, bake: int | list[int], info: ValidationInfo) -> int | list[int]:
        ttl, steps = info.data.get("cutover_ttl"), info.data.get("steps")
        bakes = bake if isinstance(bake, list) else [bake]
        if isinstance(bake, list) and steps is not None and len(bake) != len(steps):
            raise ValueError(f"bake has {len(bake)} values for {len(steps)} steps; give one, or one per step")
        short = [b for b in bakes if ttl is not None and b < ttl]
        if short:
            raise ValueError(
                f"bake {format_duration(short[0])} is shorter than the cutover TTL {format_duration(ttl)}: "
                "resolvers would still hold the previous weights when the bake ends"
            )
        return bake

    @field_validator("records")
    @classmethod
    def _records_once(cls, records: list[DnsRecord]) -> list[DnsRecord]:
        seen: set[tuple[str, str]] = set()
        for record in records:
            key = (record.name.rstrip(".").lower(), record.type)
            if key in seen:
                raise ValueError(f"record {record.type} {record.name} is listed twice")
            seen.add(key)
        return records

    @field_validator("alarms")
    @classmethod
    def _alarms_once(cls, alarms: list[DnsAlarm]) -> list[DnsAlarm]:
        seen: set[tuple[str, str, str | None]] = set()
        for alarm in alarms:
            key = (alarm.name, alarm.account, alarm.region)
            if key in seen:
                raise ValueError(f"alarm {alarm.name} is listed twice")
            seen.add(key)
        return alarms

    @property
    def gates(self) -> list[int]:
        return self.gated_steps if self.gated_steps is not None else [100]


class DnsCutoverWave(WaveBase):
    kind: Literal["dns-cutover"]
    region: Region = Field(description="the wave's region: load balancers, default alarm region")
    dns: DnsCutover


def task_spec(wave: DnsCutoverWave) -> dict[str, Any]:
    """What the task functions read (`tasks.dns_cutover.spec`): durations in seconds."""
    dns = wave.dns
    return {
        "zone": dns.zone.name,
        "zone_account": dns.zone.account,
        "region": wave.region,
        "records": [r.model_dump(mode="json") for r in dns.records],
        "steps": list(dns.steps),
        "gated_steps": dns.gates,
        "cutover_ttl": dns.cutover_ttl,
        "bake": dns.bake,
        "alarms": [
            {"name": a.name, "account": a.account, "region": a.region or wave.region} for a in dns.alarms
        ],
        "alarm_poll": dns.alarm_poll,
        "rollback_window": dns.rollback_window,
        "final_ttl": dns.final_ttl,
    }


MAX_SPEC_CHARS = 3000  # Lambda allows 4 KB of environment per function; the rest is wavectl's own


def encoded_task_spec(wave: DnsCutoverWave) -> str:
    encoded = encode_spec(task_spec(wave))
    if len(encoded) > MAX_SPEC_CHARS:
        raise ValueError(
            f"wave {wave.wave}: {len(wave.dns.records)} records need {len(encoded)} characters of Lambda "
            f"environment (at most {MAX_SPEC_CHARS}); split the wave"
        )
    return encoded


def describe(wave: DnsCutoverWave) -> str:
    dns = wave.dns
    bakes = dns.bake if isinstance(dns.bake, list) else [dns.bake] * len(dns.steps)
    lines = [
        f"Zone {dns.zone.name} ({dns.zone.account} account); TTL to {format_duration(dns.cutover_ttl)} first."
    ]
    for record in dns.records:
        lines += [
            f"  {record.type} {record.name}:",
            f"    {record.old_target}",
            f"    -> {record.new_target}",
        ]
    for step, bake in zip(dns.steps, bakes, strict=True):
        gate = "gate, " if step in dns.gates else ""
        lines.append(f"  {step:>3}% new: {gate}bake {format_duration(max(bake, dns.cutover_ttl))}")
    alarms = ", ".join(a.name for a in dns.alarms) or "none"
    lines.append(f"Alarms every {format_duration(dns.alarm_poll)}: {alarms}")
    final = f"TTL {format_duration(dns.final_ttl)}" if dns.final_ttl else "the original TTL"
    lines.append(f"Rollback window {format_duration(dns.rollback_window)}, then {final}.")
    return "\n".join(lines)


SPEC = KindSpec(model=DnsCutoverWave, describe=describe)  # DNS records hold no data: no residency targets
