"""The wave's payments section and the program's bridge names, in one environment variable.

Spec (JSON, wavectl.kinds.payment_dual_run.task_spec): {program, home_region, old: {bucket, region,
key}, ack: {bucket, region, key}, bridge_buckets, rules: {key, tolerance_minor, status_mapping},
first_business_day, required_clean_cycles, max_cycles, shadow_cycles, file_deadline,
partition_above_mb, partitions, primary_flag, switch_bridge_off_on_rollback}.
Keys hold `{date}`; durations are seconds.
"""

from __future__ import annotations

from typing import Any

from tasks.common.settings import setting
from tasks.contracts import ENV_DUAL_RUN_SPEC, decode_spec


def wave_spec(event: dict[str, Any]) -> dict[str, Any]:
    """The spec of the event if it carries one (tests, redrives), else the function's own."""
    if event.get("spec"):
        return dict(event["spec"])
    return decode_spec(setting(ENV_DUAL_RUN_SPEC))


def day_key(template: str, day: str) -> str:
    return template.replace("{date}", day)
