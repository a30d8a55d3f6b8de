"""The reminder sweeper (EventBridge, every 5 minutes): remind after `remind_after`, escalate after
`escalate_after`. Each reminder and escalation is posted once (conditional write on the record).

The timeout itself is the gate's `TimeoutSeconds`: Step Functions fails the wait with States.Timeout
and the gate's Catch records `timed_out`, so a sweeper outage can delay a reminder, never a timeout.

It also fills in the requester CloudTrail did not yet know at request time (delivery lags minutes):
for a pending approval whose requester is not from CloudTrail, it looks up the StartExecution caller
again (a few approvals per sweep, until `identity.STOP_LOOKING_AFTER` past the execution's start).
A vote already cast by an identity of that caller is voided (kept under `voided_votes`, said in the
thread): four eyes holds for every vote that has not yet closed the gate.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tasks.approvals import identity, slack
from tasks.approvals.decisions import Services
from tasks.approvals.request import post_gate
from tasks.approvals.request import services as make_services
from tasks.approvals.rules import iso, parse_time
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
    if not record.get("message_ts"):  # not posted yet: remind once the message exists
        return False
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
    if not backup or not record.get("message_ts") or not _due(record, "escalate_after", now):
        return False
    if not services.store.mark_once(record["approval_id"], "escalated_at", now):
        return False
    slack.reply_in_thread(
        record,
        f"Escalated to {backup}: {slack.mentions(_not_voted(record, services, backup))} may now approve "
        f"({slack.progress_text(record)}; deadline {record['expires_at']}).",
    )
    return True


MAX_LOOKUPS_PER_SWEEP = 5  # LookupEvents allows 2 calls per second per account and region


def _still_looking(record: dict[str, Any], now: datetime) -> bool:
    if record.get("requester_source") == identity.CLOUDTRAIL:
        return False
    started = parse_time(str(record.get("execution_started_at") or record["created_at"]))
    return now < started + identity.STOP_LOOKING_AFTER


def fill_in_requester(record: dict[str, Any], services: Services, now: datetime) -> bool:
    """Record the CloudTrail requester of a pending approval, void their votes; True if found."""
    started = parse_time(str(record.get("execution_started_at") or record["created_at"]))
    principal = identity.lookup_start_execution(services.cloudtrail, record["execution"], started)
    if principal is None:
        return False
    fields = identity.requester_fields(
        record.get("requester_input", record.get("requester")),
        record.get("requester_source"),
        principal,
        services.groups,
    )
    updated = services.store.set_requester(
        record["approval_id"], {**fields, "requester_resolved_at": iso(now)}
    )
    if updated is None:  # closed meanwhile, or another sweep got there first
        return False
    requester_ids = set(fields["requester_ids"])
    voided = [user for user in (updated.get("votes") or {}) if user in requester_ids]
    note = {"at": iso(now), "why": "the voter started this execution (CloudTrail StartExecution caller)"}
    voided = [user for user in voided if services.store.void_vote(record["approval_id"], user, note)]
    logger().info(
        "requester from cloudtrail",
        extra={"approval_id": record["approval_id"], "principal": principal.arn, "voided": voided},
    )
    if voided:
        current = services.store.get(record["approval_id"]) or {**record, **updated}
        slack.update_message(current, services.groups)
        slack.reply_in_thread(
            current,
            f"CloudTrail shows {principal.arn} started this wave: the approval of "
            f"{', '.join(f'<@{u}>' for u in voided)} no longer counts (four eyes).",
        )
    return True


def sweep(services: Services, now: datetime) -> dict[str, int]:
    counts = {"pending": 0, "posted": 0, "reminded": 0, "escalated": 0, "requester_found": 0}
    lookups, slack_down = 0, False
    for record in services.store.pending():
        counts["pending"] += 1
        try:
            if not record.get("message_ts") and not slack_down:  # the request's own post failed: post it
                posted = post_gate(record, services, now, attempts=1)  # one try each: the sweep has 60 s
                counts["posted"] += posted
                record = services.store.get(record["approval_id"]) or record
                slack_down = not posted and bool(record.get("post_error"))
            if services.cloudtrail and lookups < MAX_LOOKUPS_PER_SWEEP and _still_looking(record, now):
                lookups += 1
                counts["requester_found"] += fill_in_requester(record, services, now)
                record = services.store.get(record["approval_id"]) or record
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
    return sweep(make_services(cloudtrail=True), now)
