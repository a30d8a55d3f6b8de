"""The cool-off: wait `cool_off` in steps, looking for a `wavectl abort` signal between steps.

The signal is a record in the approvals table ({pk: abort#<arn>, sk: abort}) that the approvals
callback writes after checking the caller as it checks a rejection. Simulated time is counted by
the loop itself (the waits it asked for), so a compressed rehearsal ends the cool-off on time.
"""

from __future__ import annotations

from typing import Any

from tasks.contracts import ABORT_PK_PREFIX, ABORT_SK


def abort_signal(dynamodb: Any, table: str, execution_arn: str) -> dict[str, Any] | None:
    item = dynamodb.get_item(
        TableName=table,
        Key={"pk": {"S": f"{ABORT_PK_PREFIX}{execution_arn}"}, "sk": {"S": ABORT_SK}},
        ConsistentRead=True,
    ).get("Item")
    if item is None:
        return None
    return {name: value.get("S") for name, value in item.items() if "S" in value}


def check(
    signal: dict[str, Any] | None, spec: dict[str, Any], previous: dict[str, Any] | None
) -> dict[str, Any]:
    """{aborted, finished, waited_seconds, wait_seconds, remaining_seconds, signal} after one look."""
    cool_off, step = int(spec["cool_off_seconds"]), int(spec.get("abort_check_seconds") or 3600)
    waited = int((previous or {}).get("waited_seconds", 0)) + int((previous or {}).get("wait_seconds", 0))
    remaining = max(0, cool_off - waited)
    return {
        "aborted": signal is not None,
        "finished": signal is None and remaining == 0,
        "waited_seconds": waited,
        "remaining_seconds": remaining,
        "wait_seconds": min(step, remaining) if remaining else 0,
        "signal": signal,
    }
