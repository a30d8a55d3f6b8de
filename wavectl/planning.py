"""Plain-language description of what a wave will do (for `wavectl plan`)."""

from __future__ import annotations

from functools import singledispatch

from wavectl.runbook import (
    DbSnapshotCopyWave,
    DecommissionWave,
    DnsCutoverWave,
    PaymentDualRunWave,
    format_duration,
)


@singledispatch
def describe_wave(wave: object) -> str:
    raise TypeError(f"no description for {type(wave).__name__}")


@describe_wave.register
def _(wave: DbSnapshotCopyWave) -> str:
    lines = [
        f"{db.type} {db.id}: {db.region} -> {db.target_region}, re-encrypted under {db.target.kms_key} "
        f"({db.data_class})"
        for db in wave.databases
    ]
    return f"copy {len(wave.databases)} database(s), {wave.max_concurrency} at a time:\n" + "\n".join(lines)


@describe_wave.register
def _(wave: DnsCutoverWave) -> str:
    dns = wave.dns
    steps = " -> ".join(f"{s}%" for s in dns.steps)
    alarms = ", ".join(dns.alarms) or "none"
    return (
        f"shift {dns.record} from {dns.old_target} to {dns.new_target}: {steps}, "
        f"baking {format_duration(dns.bake)} per step; roll back on alarms: {alarms}"
    )


@describe_wave.register
def _(wave: PaymentDualRunWave) -> str:
    p = wave.payments
    return (
        f"dual-run payments {p.old_bucket} vs {p.new_bucket} ({p.format}) for {p.days} day(s), "
        f"reconcile on {', '.join(p.key_fields)} (tolerance {p.tolerance_cents} cents), then switch "
        f"the secure transfer to {p.transfer_bucket}"
    )


@describe_wave.register
def _(wave: DecommissionWave) -> str:
    d = wave.decommission
    snapshot = "final snapshots kept" if d.final_snapshot else "no final snapshots"
    return (
        f"retire {', '.join(d.resource_types)} tagged {d.tag_key}={d.tag_value} in {', '.join(d.regions)} "
        f"({snapshot}, {d.retain_days} days)"
    )
