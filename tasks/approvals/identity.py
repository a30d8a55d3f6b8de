"""Who started the wave: the execution input's `requested_by`, and on AWS the authenticated
`StartExecution` caller from CloudTrail.

A person can type any `requested_by`; the CloudTrail principal is the identity AWS authenticated. Both
are kept, and the four-eyes rule is applied against every identity either of them resolves to.

The CloudTrail lookup is the boundary (`lookup_start_execution(cloudtrail, ...)`, a small function
taking the cloudtrail client). It is bounded: at most `MAX_LOOKUP_CALLS` `LookupEvents` calls over a
short window around the execution's start, with a client that neither waits long nor retries. CloudTrail
delivers management events minutes after the call, so an empty answer is normal at request time; the
reminder sweeper tries again while the approval is pending (see `docs/approvals.md`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from botocore.config import Config

from tasks.approvals.config import Member
from tasks.common.logging import logger

CLOUDTRAIL, INPUT, UNKNOWN = "cloudtrail", "input", "unknown"
START_EXECUTION = "StartExecution"
LOOKUP_WINDOW = timedelta(minutes=5)  # either side of the execution's start
MAX_LOOKUP_CALLS = 2  # pages of LookupEvents (LookupEvents allows 2 calls per second per account)
PAGE_SIZE = 50  # the API's maximum
STOP_LOOKING_AFTER = timedelta(hours=1)  # the sweeper stops asking CloudTrail this long after the start
# LookupEvents is slow to fail when CloudTrail is unreachable: never let it hold up a gate.
CLIENT_CONFIG = Config(connect_timeout=2, read_timeout=3, retries={"max_attempts": 1, "mode": "standard"})


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of StartExecution, from its CloudTrail management event."""

    arn: str
    session_name: str | None
    type: str
    principal_id: str | None
    issuer_arn: str | None  # the role behind an assumed-role session
    event_id: str | None
    event_time: str | None

    def as_record(self) -> dict[str, str]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def _cloudtrail_event(event: dict[str, Any]) -> dict[str, Any] | None:
    raw = event.get("CloudTrailEvent")
    if isinstance(raw, dict):
        return raw
    try:
        return json.loads(raw) if raw else None
    except (TypeError, ValueError):
        return None


def _session_name(identity: dict[str, Any]) -> str | None:
    """The session name of an assumed role (the last segment of its ARN), or an IAM user's name."""
    arn = identity.get("arn") or ""
    if identity.get("type") == "AssumedRole" and ":assumed-role/" in arn:
        return arn.rsplit("/", 1)[-1] or None
    if identity.get("type") == "IAMUser":
        return identity.get("userName")
    return None


def match_start_execution(events: Iterable[dict[str, Any]], execution_arn: str) -> Principal | None:
    """The caller of the StartExecution that created `execution_arn`, among LookupEvents `Events`.

    StartExecution is idempotent: a later call with the same name and input succeeds and returns the
    same execution ARN. The earliest successful call is the one that started the execution.
    """
    found: list[Principal] = []
    for event in events:
        detail = _cloudtrail_event(event)
        if not detail or detail.get("eventName") != START_EXECUTION or detail.get("errorCode"):
            continue
        if (detail.get("responseElements") or {}).get("executionArn") != execution_arn:
            continue
        identity = detail.get("userIdentity") or {}
        arn = identity.get("arn")
        if not arn:  # e.g. an AWS service principal without an ARN: nobody to hold to four eyes
            continue
        issuer = ((identity.get("sessionContext") or {}).get("sessionIssuer") or {}).get("arn")
        found.append(
            Principal(
                arn=arn,
                session_name=_session_name(identity),
                type=str(identity.get("type") or "unknown"),
                principal_id=identity.get("principalId"),
                issuer_arn=issuer,
                event_id=detail.get("eventID") or event.get("EventId"),
                event_time=detail.get("eventTime"),
            )
        )
    return min(found, key=lambda p: p.event_time or "") if found else None


def lookup_start_execution(cloudtrail: Any, execution_arn: str, started_at: datetime) -> Principal | None:
    """Look up the StartExecution event of `execution_arn` (at most MAX_LOOKUP_CALLS calls).

    None when CloudTrail has not delivered it yet, has no such event, or cannot be asked (no
    permission, throttled, timed out, or the embedded AWS, which does not implement LookupEvents).
    """
    kwargs: dict[str, Any] = {
        "LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": START_EXECUTION}],
        "StartTime": started_at - LOOKUP_WINDOW,
        "EndTime": started_at + LOOKUP_WINDOW,
        "MaxResults": PAGE_SIZE,
    }
    try:
        for _ in range(MAX_LOOKUP_CALLS):
            page = cloudtrail.lookup_events(**kwargs)
            found = match_start_execution(page.get("Events", []), execution_arn)
            if found is not None or not page.get("NextToken"):
                return found
            kwargs["NextToken"] = page["NextToken"]
    except Exception as exc:  # any failure means "not known from CloudTrail (yet)", never a failed gate
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__)
        # INFO, not WARNING: an empty or failed lookup is the normal case for minutes after a start
        # (delivery lag); the requester then comes from the input and the sweeper retries.
        logger().info("cloudtrail lookup unavailable", extra={"execution": execution_arn, "code": code})
    return None


def _member_ids(member: Member) -> set[str]:
    return {member.slack, *member.iam} | ({member.name} if member.name else set())


def identities_of(names: Iterable[str | None], groups: dict[str, list[Member]]) -> set[str]:
    """The given identities plus every identity of each approver any of them names."""
    given = {name for name in names if name}
    ids = set(given)
    for members in groups.values():
        for member in members:
            if given & _member_ids(member):
                ids |= _member_ids(member)
    return ids


def requester_fields(
    requested_by: str | None,
    input_source: str | None,
    principal: Principal | None,
    groups: dict[str, list[Member]],
) -> dict[str, Any]:
    """The approval record's requester fields.

    `requester` is the authenticated principal when CloudTrail named one, else what the input said;
    `requester_source` says which (`cloudtrail`, `input` or `unknown`); `requester_input` keeps what
    was typed and `requester_principal` the CloudTrail caller; `requester_ids` is every identity
    either resolves to (Slack id, name, runbook IAM ARNs), which the four-eyes rule checks against.

    An assumed role's session name counts as an identity only through an approver's IAM ARN: anyone
    allowed to assume a role chooses their own session name, so it is recorded, not trusted.
    """
    input_ids = identities_of([requested_by], groups)
    fields: dict[str, Any] = {
        "requester": requested_by,
        "requester_source": (input_source or INPUT) if requested_by else UNKNOWN,
        "requester_input": requested_by,
        "requester_ids": sorted(input_ids),
    }
    if principal is None:
        return fields
    principal_ids = identities_of([principal.arn], groups)
    fields.update(
        requester=principal.arn,
        requester_source=CLOUDTRAIL,
        requester_principal=principal.as_record(),
        requester_ids=sorted(input_ids | principal_ids),
    )
    if requested_by:
        fields["requester_identities_differ"] = not (input_ids & principal_ids)
    return fields
