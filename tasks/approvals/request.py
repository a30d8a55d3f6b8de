"""The gate's `lambda:invoke.waitForTaskToken` task: store the token, post the Slack message.

Also posts the frame's notes in the execution's Slack thread (`action: started | step`, see
tasks/approvals/thread.py).

Also handles the gate's timeout path (`action: timed_out`): close the approval as timed_out and hand
the workflow `Wavectl.ApprovalTimedOut` to fail with after compensation.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from tasks.approvals import config, identity, slack, thread
from tasks.approvals.decisions import Services, record_timeout
from tasks.approvals.rules import iso, parse_time
from tasks.approvals.store import ApprovalStore
from tasks.common.aws import own_session
from tasks.common.errors import RequesterUnknown
from tasks.common.logging import logger
from tasks.contracts import (
    ACTION_STARTED,
    ACTION_STEP,
    REQUESTER_UNVERIFIED,
    REQUESTER_VERIFIED,
    ApprovalPolicy,
    ApprovalRequest,
    Decision,
    ErrorName,
)

_DIGEST_IN_DESCRIPTION = re.compile(r"sha256:([0-9a-f]{64})")


def new_approval_id() -> str:
    """Opaque and unguessable (128 random bits); says nothing about the wave or the token."""
    return "apr_" + secrets.token_urlsafe(16)


def services(
    session: boto3.Session | None = None, *, cloudtrail: bool = False, iam: bool = False
) -> Services:
    """The clients of an approvals function; `cloudtrail` only for those that look up the requester
    (request and reminders; the callback neither needs nor may call LookupEvents)."""
    session = session or own_session()
    table = session.resource("dynamodb").Table(config.table_name())
    return Services(
        store=ApprovalStore(table),
        sfn=session.client("stepfunctions"),
        s3=session.client("s3"),
        groups=config.groups(),
        cloudtrail=session.client("cloudtrail", config=identity.CLIENT_CONFIG) if cloudtrail else None,
        iam=session.client("iam") if iam else None,
    )


def input_digest(execution_input: Any) -> str:
    canonical = json.dumps(execution_input, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def definition_digest(sfn: Any, execution: str) -> tuple[str | None, str]:
    """The definition digest of the version this execution runs, and where it came from."""
    try:
        described = sfn.describe_execution(executionArn=execution)
        version = described.get("stateMachineVersionArn")
        if version:
            description = sfn.describe_state_machine(stateMachineArn=version).get("description", "")
            match = _DIGEST_IN_DESCRIPTION.search(description)
            if match:
                return "sha256:" + match.group(1), "version-description"
        definition = sfn.describe_state_machine_for_execution(executionArn=execution)["definition"]
        return "sha256:" + hashlib.sha256(definition.encode()).hexdigest(), "deployed-definition"
    except Exception as exc:  # evidence still records that the digest was unavailable
        logger().warning("definition digest unavailable", extra={"error": type(exc).__name__})
        return None, "unavailable"


def execution_started_at(event: dict[str, Any], sfn: Any, now: datetime) -> datetime:
    """When the execution started: `$$.Execution.StartTime` from the gate, else DescribeExecution."""
    if event.get("execution_started_at"):
        return parse_time(str(event["execution_started_at"]))
    try:
        started = sfn.describe_execution(executionArn=event["execution"]).get("startDate")
        if isinstance(started, datetime):
            return started if started.tzinfo else started.replace(tzinfo=UTC)
    except Exception as exc:
        logger().warning("execution start unavailable", extra={"error": type(exc).__name__})
    return now


def _resolved_principal(event: dict[str, Any]) -> identity.Principal | None:
    """The StartExecution caller the frame's requester step found in CloudTrail, if it did."""
    resolved = event.get("requester")
    if not isinstance(resolved, dict) or not resolved.get("verified"):
        return None
    found = resolved.get("principal") or {}
    if not found.get("arn"):
        return None
    return identity.Principal(
        arn=str(found["arn"]),
        session_name=found.get("session_name"),
        type=str(found.get("type") or "unknown"),
        principal_id=found.get("principal_id"),
        issuer_arn=found.get("issuer_arn"),
        event_id=found.get("event_id"),
        event_time=found.get("event_time"),
    )


def requester(event: dict[str, Any], services: Services, started: datetime) -> dict[str, Any]:
    """The requester fields: input `requested_by`, plus the CloudTrail StartExecution caller.

    A gate does not open while nobody authenticated is known to have started the execution, unless
    the wave's runbook says `requester: unverified` (Wavectl.RequesterUnknown, before anything is
    stored or posted)."""
    principal = _resolved_principal(event)
    if principal is None and services.cloudtrail is not None:
        principal = identity.lookup_start_execution(services.cloudtrail, event["execution"], started)
    if principal is None and event.get("requester_policy", REQUESTER_VERIFIED) != REQUESTER_UNVERIFIED:
        raise RequesterUnknown(
            f"gate {event.get('gate')} does not open: nobody authenticated is known to have started "
            "this execution (no CloudTrail StartExecution caller), and the wave does not allow "
            "`requester: unverified`"
        )
    return identity.requester_fields(
        event.get("requested_by"), event.get("requested_by_source"), principal, services.groups
    )


def new_record(event: ApprovalRequest, services: Services, now: datetime) -> dict[str, Any]:
    policy: ApprovalPolicy = event["policy"]
    wave = event["wave"]
    digest, digest_source = definition_digest(services.sfn, event["execution"])
    started = execution_started_at(event, services.sfn, now)
    return {
        "approval_id": new_approval_id(),
        "task_token": event["task_token"],
        "status": Decision.PENDING.value,
        "execution": event["execution"],
        "state_machine": event.get("state_machine"),
        "gate": event["gate"],
        "wave": wave["name"],
        "kind": wave.get("kind"),
        "runbook_version": int(wave["version"]),
        "policy": {k: v for k, v in policy.items() if v is not None},
        "summary": event.get("summary") or "",
        **requester(event, services, started),
        "execution_started_at": iso(started),
        "input_digest": input_digest(event.get("execution_input")),
        "definition_digest": digest,
        "definition_digest_source": digest_source,
        "created_at": iso(now),
        "expires_at": iso(now + timedelta(seconds=int(policy["timeout"]))),
        "votes": {},
    }


POST_ATTEMPTS = 3  # the request function's 30 s timeout holds 3 posts of 2 s plus the waits
POST_FIRST_WAIT_SECONDS = 0.5
POST_MAX_WAIT_SECONDS = 4.0


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


def post_with_retry(
    record: dict[str, Any], services: Services, attempts: int = POST_ATTEMPTS
) -> tuple[str, str, str | None]:
    """Post the request message in the execution's thread (channel, ts, the thread's root ts or None
    when it starts the thread), retrying a failed post with a capped exponential backoff; the last
    error is raised when every attempt failed."""
    for attempt in range(attempts):
        try:
            thread = services.store.thread_of(record["execution"])
            channel, ts = slack.post_request(record, services.groups, thread)
            return channel, ts, thread[1] if thread else None
        except Exception as exc:
            logger().warning(
                "slack post attempt failed",
                extra={"approval_id": record["approval_id"], "attempt": attempt + 1, "error": _code(exc)},
            )
            if attempt == attempts - 1:
                raise
            _sleep(min(POST_MAX_WAIT_SECONDS, POST_FIRST_WAIT_SECONDS * 2**attempt))
    raise AssertionError("unreachable")


def _code(exc: Exception) -> str:
    """A Slack error's code (e.g. `channel_not_found`, or the exception's class): never its text."""
    response = getattr(exc, "response", None)
    error = response.get("error") if response is not None and hasattr(response, "get") else None
    return str(error or type(exc).__name__)[:80]


def post_gate(
    record: dict[str, Any], services: Services, now: datetime, attempts: int = POST_ATTEMPTS
) -> bool:
    """Post the request message of an approval not yet posted (once: the post is claimed). A post
    that fails every attempt is escalated: `post_error` on the record (`wavectl approvals` shows the
    gate as NOT POSTED), an ERROR log line (the control plane's alarm), and the reminder sweeper
    posts it when Slack answers again. The gate waits either way; `wavectl approve` works."""
    approval_id = record["approval_id"]
    if record.get("message_ts") or not services.store.claim_post(approval_id):
        return False
    try:
        channel, ts, thread_ts = post_with_retry(record, services, attempts)
    except Exception as exc:  # Slack down: the gate still waits; `wavectl approve` is the fallback
        services.store.release_post(approval_id)
        services.store.set_post_error(approval_id, _code(exc), now)
        logger().error(
            "slack post failed after retries",
            extra={"approval_id": approval_id, "gate": record["gate"], "error": _code(exc)},
        )
        return False
    services.store.set_message(approval_id, channel, ts, thread_ts)
    return True


def open_gate(event: ApprovalRequest, services: Services, now: datetime) -> dict[str, Any]:
    record, created = services.store.open(new_record(event, services, now))
    log = {"approval_id": record["approval_id"], "gate": record["gate"], "wave": record["wave"]}
    logger().info("approval opened" if created else "approval request retried", extra=log)
    return {"approval_id": record["approval_id"], "posted": post_gate(record, services, now)}


def timed_out(event: dict[str, Any], services: Services, now: datetime) -> dict[str, str]:
    record = record_timeout(services, event["execution"], event["gate"], now)
    policy = (record or {}).get("policy", {})
    after = f" after {int(policy['timeout'])}s" if policy.get("timeout") else ""
    return {
        "Error": ErrorName.APPROVAL_TIMED_OUT.value,
        "Cause": f"approval gate {event['gate']} timed out{after} without {policy.get('required', 'the')} "
        f"approvals (approval {(record or {}).get('approval_id', 'unknown')})",
    }


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    if event.get("action") == "timed_out":
        return timed_out(event, services(), now)
    if event.get("action") in (ACTION_STARTED, ACTION_STEP):  # a note in the execution's Slack thread
        return thread.announce(event, services(), now)
    return open_gate(event, services(cloudtrail=True), now)
