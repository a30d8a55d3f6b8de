"""The reminder sweeper (EventBridge, every 5 minutes): remind after `remind_after`, escalate after
`escalate_after`. Each reminder and escalation is posted once (conditional write on the record).

The timeout itself is the gate's `TimeoutSeconds`: Step Functions fails the wait with States.Timeout
and the gate's Catch records `timed_out`, so a sweeper outage can delay a reminder, never a timeout.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tasks.approvals import slack
from tasks.approvals.decisions import Services
from tasks.approvals.request import services as make_services
from tasks.approvals.rules import parse_time
from tasks.approvals.store import approvers_of
from tasks.common.logging import logger


def _due(record: dict[str, Any], policy_key: str, now: datetime) -> bool:
    after = record["policy"].get(policy_key)
    return bool(after) and now >= parse_time(record["created_at"]) + timedelta(seconds=int(after))


def _not_voted(record: dict[str, Any], services: Services, group: str) -> list[Any]:
    voted = set(approvers_of(record))
    requester = set(record.get("requester_ids") or [])
    return [m for m in services.groups.get(group, []) if m.slack not in voted | requester]


def remind(record: dict[str, Any], services: Services, now: datetime) -> bool:
    if not _due(record, "remind_after", now) or not services.store.mark_once(
        record["approval_id"], "reminded_at", now
    ):
        return False
    waiting = slack.mentions(_not_voted(record, services, record["policy"]["group"]))
    slack.reply_in_thread(
        record,
        f"Reminder: {slack.progress_text(record)}. {waiting}: please decide before {record['expires_at']}.",
    )
    return True


def escalate(record: dict[str, Any], services: Services, now: datetime) -> bool:
    backup = record["policy"].get("escalate_to")
    if not backup or not _due(record, "escalate_after", now):
        return False
    if not services.store.mark_once(record["approval_id"], "escalated_at", now):
        return False
    slack.reply_in_thread(
        record,
        f"Escalated to {backup}: {slack.mentions(_not_voted(record, services, backup))} may now approve "
        f"({slack.progress_text(record)}; deadline {record['expires_at']}).",
    )
    return True


def sweep(services: Services, now: datetime) -> dict[str, int]:
    counts = {"pending": 0, "reminded": 0, "escalated": 0}
    for record in services.store.pending():
        counts["pending"] += 1
        try:
            counts["reminded"] += remind(record, services, now)
            counts["escalated"] += escalate(record, services, now)
        except Exception as exc:  # one broken record must not stop the others' reminders
            logger().warning(
                "reminder failed", extra={"approval_id": record["approval_id"], "error": type(exc).__name__}
            )
    logger().info("reminder sweep", extra=counts)
    return counts


def handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    """EventBridge scheduled event; the local runner may pass {"now": ISO time} (compressed time)."""
    now = parse_time(event["now"]) if isinstance(event, dict) and event.get("now") else datetime.now(UTC)
    return sweep(make_services(), now)
