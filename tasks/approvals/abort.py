"""`wavectl abort WAVE`: stop a decommission during its cool-off, restoring what it disabled.

The signal is stored in the approvals table next to the execution's gate records
({pk: abort#<execution arn>, sk: abort}); the wave's cool-off loop reads it between waits,
restores every disabled resource and fails the execution `Wavectl.Aborted`. Who may abort follows
the rule for a rejection: a member of the approver group of the wave's `decommission` gate (the
escalation group too once escalated); the requester may abort as they may reject. One signal per
execution: a second abort is answered with who aborted first.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from tasks.approvals.config import Member
from tasks.approvals.decisions import Outcome, Services
from tasks.approvals.rules import eligible, iso
from tasks.common.logging import logger
from tasks.contracts import ABORT_GATE, ABORT_PK_PREFIX, ABORT_SK, Decision


def signal_key(execution: str) -> dict[str, str]:
    return {"pk": f"{ABORT_PK_PREFIX}{execution}", "sk": ABORT_SK}


def abort_cool_off(
    services: Services, approval_id: str, member: Member, caller: str, reason: str | None, now: datetime
) -> Outcome:
    record = services.store.get(approval_id)
    refused = _refusal(record, member, services, now)
    if refused is not None:
        logger().info(
            "abort refused", extra={"approval_id": approval_id, "user": member.slack, "why": refused}
        )
        return Outcome(403 if record and "group" in refused else 409, refused, record)
    assert record is not None
    signal: dict[str, Any] = {
        **signal_key(record["execution"]),
        "by": member.slack,
        "by_name": member.name or "",
        "caller": caller,
        "at": iso(now),
        "approval_id": approval_id,
        "via": "cli",
        "wave": record.get("wave", ""),
    }
    if reason:
        signal["reason"] = reason
    try:
        services.store.table.put_item(Item=signal, ConditionExpression="attribute_not_exists(pk)")
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        first = services.store.table.get_item(Key=signal_key(record["execution"]), ConsistentRead=True)[
            "Item"
        ]
        return Outcome(409, f"Already aborted by {first.get('by')} at {first.get('at')}.", record)
    logger().warning("cool-off abort requested", extra={"approval_id": approval_id, "user": member.slack})
    return Outcome(
        200,
        "Abort recorded: at its next check the wave restores every disabled resource and fails "
        "Wavectl.Aborted.",
        record,
    )


def _refusal(record: dict[str, Any] | None, member: Member, services: Services, now: datetime) -> str | None:
    if record is None:
        return "This approval does not exist (or was already cleaned up)."
    if record.get("gate") != ABORT_GATE:
        gate = record.get("gate")
        return f"Only a decommission's cool-off can be aborted (this is gate {gate}); reject instead."
    if record.get("status") != Decision.APPROVED:
        return "The decommission gate is not approved yet: nothing is disabled; reject the gate instead."
    if member.slack not in {m.slack for m in eligible(record, services.groups, now)}:
        return f"Only members of the approver group {record['policy']['group']} may abort this wave."
    return None
