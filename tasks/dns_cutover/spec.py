"""The wave's records, steps and alarms, handed to the task functions in one environment variable.

The state machine definition must not grow with the number of records or steps, so they are not in
the ASL: the stack encodes the spec here (`encode_spec`), the tasks decode it.

Spec (JSON): {zone, zone_account: source|target, region, records: [{name, type, old_target,
new_target, old_health_check, new_health_check}], steps, gated_steps, cutover_ttl, bake,
alarms: [{name, account: source|target, region}], alarm_poll, rollback_window, final_ttl}.
Durations are seconds; `final_ttl` null means "the original TTL".
"""

from __future__ import annotations

from typing import Any

from tasks.common.settings import setting
from tasks.contracts import ENV_DNS_WAVE_SPEC, decode_spec, encode_spec

ALIAS_TYPES = ("A", "AAAA")
__all__ = ["ENV_DNS_WAVE_SPEC", "encode_spec", "wave_spec"]


def wave_spec(event: dict[str, Any]) -> dict[str, Any]:
    """The spec of the event if it carries one (tests, redrives), else the function's own."""
    if event.get("spec"):
        return dict(event["spec"])
    return decode_spec(setting(ENV_DNS_WAVE_SPEC))


def fqdn(name: str) -> str:
    """`api.example.com` and `api.example.com.` compare equal; Route 53 answers with the dot."""
    return name.rstrip(".").lower() + "."


def bake_seconds(spec: dict[str, Any], index: int) -> int:
    """How long step `index` bakes: its bake (one for all steps, or one per step), at least the TTL."""
    bake = spec["bake"]
    seconds = bake[index] if isinstance(bake, list) else bake
    return max(int(seconds), int(spec["cutover_ttl"]))


def step_plan(spec: dict[str, Any], index: int) -> dict[str, Any]:
    """What the workflow needs about step `index`: its weight, whether a gate precedes it, its bake."""
    steps = spec["steps"]
    weight = int(steps[index])
    return {
        "index": index,
        "weight": weight,
        "gated": weight in spec.get("gated_steps", [100]),
        "gate": f"shift-to-{weight}",
        "last": index == len(steps) - 1,
        "bake_seconds": bake_seconds(spec, index),
        "summary": shift_summary(spec, index),
    }


def shift_summary(spec: dict[str, Any], index: int) -> str:
    names = ", ".join(r["name"] for r in spec["records"])
    alarms = ", ".join(a["name"] for a in spec["alarms"]) or "no alarms"
    weight, bake = int(spec["steps"][index]), bake_seconds(spec, index)
    return (
        f"Shift {names} to {weight}% on the new targets ({100 - weight}% stays on the old ones), then "
        f"bake {bake // 60}m{bake % 60:02d}s watching {alarms} every {int(spec['alarm_poll'])}s. "
        "A trip rolls back."
    )
