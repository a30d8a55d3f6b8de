"""CloudWatch alarm states, read per (account, region) with DescribeAlarms on the named alarms."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tasks.dns_cutover.reach import Reach

OK = "OK"


def alarm_states(reach: Reach, alarms: Iterable[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """name -> {state, reason, account, region, updated}; an alarm that does not exist is absent."""
    by_place: dict[tuple[str, str], list[str]] = {}
    for alarm in alarms:
        by_place.setdefault((alarm["account"], alarm["region"]), []).append(alarm["name"])
    states: dict[str, dict[str, str]] = {}
    for (side, region), names in by_place.items():
        cloudwatch = reach.client(side, "cloudwatch", region)
        for start in range(0, len(names), 100):  # DescribeAlarms takes at most 100 names
            found = cloudwatch.describe_alarms(
                AlarmNames=names[start : start + 100], AlarmTypes=["MetricAlarm", "CompositeAlarm"]
            )
            for alarm in found.get("MetricAlarms", []) + found.get("CompositeAlarms", []):
                states[alarm["AlarmName"]] = {
                    "state": alarm["StateValue"],
                    "reason": alarm.get("StateReason", ""),
                    "updated": str(alarm.get("StateUpdatedTimestamp", "")),
                    "account": reach.account(side),
                    "region": region,
                }
    return states


def not_ok(states: dict[str, dict[str, str]]) -> list[str]:
    return sorted(name for name, state in states.items() if state["state"] != OK)
