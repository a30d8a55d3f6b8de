"""Who may decide an approval, and when it is decided. Pure functions (no AWS, no Slack)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tasks.approvals.config import Member
from tasks.contracts import Decision

APPROVE, REJECT = "approve", "reject"


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def escalated(record: dict[str, Any], now: datetime) -> bool:
    policy = record["policy"]
    after = policy.get("escalate_after")
    if not after or not policy.get("escalate_to"):
        return False
    return now >= parse_time(record["created_at"]) + timedelta(seconds=int(after))


def eligible(record: dict[str, Any], groups: dict[str, list[Member]], now: datetime) -> list[Member]:
    """Members who may vote now: the gate's group, plus the escalation group once escalated."""
    policy = record["policy"]
    members = list(groups.get(policy["group"], []))
    if escalated(record, now):
        members += [m for m in groups.get(policy["escalate_to"], []) if m not in members]
    return members


def is_requester(
    record: dict[str, Any], member: Member | None, user: str, also: tuple[str, ...] = ()
) -> bool:
    """Whether the voter is the requester under any identity: the Slack user (or, from the CLI, the
    verified caller ARN in `also`), the runbook approver's name, Slack id and IAM ARNs."""
    identities = {user, *also}
    if member is not None:
        identities |= {member.slack, *member.iam} | ({member.name} if member.name else set())
    return bool(identities & set(record.get("requester_ids") or []))


def refusal(
    record: dict[str, Any] | None,
    user: str,
    action: str,
    groups: dict[str, list[Member]],
    now: datetime,
    also: tuple[str, ...] = (),
) -> str | None:
    """Why `user` may not `action` this approval now, or None when they may."""
    if record is None:
        return "This approval does not exist (or was already cleaned up)."
    status = record.get("status")
    if status != Decision.PENDING:
        return f"This approval is already closed ({status})."
    if now >= parse_time(record["expires_at"]):
        return "This approval has expired; the gate is timing out."
    allowed = eligible(record, groups, now)
    member = next((m for m in allowed if m.slack == user), None)
    if member is None:
        policy = record["policy"]
        extra = f" (or {policy['escalate_to']} after escalation)" if policy.get("escalate_to") else ""
        return f"Only members of the approver group {policy['group']}{extra} may decide this gate."
    if action == APPROVE and is_requester(record, member, user, also):
        return "You requested this wave, so someone else must approve it (four eyes)."
    return None


def member_for_arn(arn: str, groups: dict[str, list[Member]]) -> Member | None:
    for members in groups.values():
        for member in members:
            if arn in member.iam:
                return member
    return None


def requester_ids(requested_by: str | None, groups: dict[str, list[Member]]) -> list[str]:
    """Every identity of the requester: what they gave, plus the approver it names (Slack id...)."""
    from tasks.approvals.identity import identities_of

    return sorted(identities_of([requested_by], groups))
