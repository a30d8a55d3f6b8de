"""Deciding an approval: the same rules for a Slack click and for the IAM-authorised CLI fallback."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from botocore.exceptions import ClientError

from tasks.approvals import evidence, slack
from tasks.approvals.config import Member
from tasks.approvals.rules import REJECT, iso, refusal
from tasks.approvals.store import ApprovalStore, approvers_of
from tasks.common.logging import logger
from tasks.contracts import Decision, ErrorName, required_approvals


@dataclass(frozen=True)
class Outcome:
    status_code: int  # 200 counted/decided, 403 refused, 409 nothing to do (already voted / closed)
    message: str
    record: dict[str, Any] | None = None

    @property
    def changed(self) -> bool:
        return self.status_code == 200


@dataclass(frozen=True)
class Services:
    store: ApprovalStore
    sfn: Any  # stepfunctions client
    s3: Any  # s3 client
    groups: dict[str, list[Member]]
    cloudtrail: Any = None  # cloudtrail client (request and reminder functions only): the requester


def decide(
    services: Services,
    approval_id: str,
    user: str,
    action: str,
    *,
    via: str,
    now: datetime,
    reason: str | None = None,
    identities: tuple[str, ...] = (),
) -> Outcome:
    """`identities`: further verified identities of the voter (the CLI caller's IAM ARN)."""
    record = services.store.get(approval_id)
    refused = refusal(record, user, action, services.groups, now, identities)
    log = {"approval_id": approval_id, "user": user, "action": action, "via": via}
    if refused is not None:
        logger().info("decision refused", extra={**log, "why": refused})
        return Outcome(403 if record and record.get("status") == Decision.PENDING else 409, refused, record)
    if action == REJECT:
        return _reject(services, approval_id, user, via=via, now=now, reason=reason)
    return _approve(services, approval_id, user, via=via, now=now, reason=reason)


def _vote(user: str, via: str, now: datetime, reason: str | None) -> dict[str, Any]:
    return {"at": iso(now), "via": via, **({"reason": reason} if reason else {})}


def _approve(
    services: Services, approval_id: str, user: str, *, via: str, now: datetime, reason: str | None
) -> Outcome:
    record = services.store.add_vote(approval_id, user, _vote(user, via, now, reason))
    if record is None:
        record = _unsent_quorum(services, approval_id, user)
        if record is None:
            return Outcome(409, "Your approval was already counted (or the gate just closed).")
        logger().info("approval result resent", extra={"approval_id": approval_id, "user": user, "via": via})
    else:
        logger().info("approval counted", extra={"approval_id": approval_id, "user": user, "via": via})
    if len(record["approvers"]) < required_approvals(record["policy"]):
        return Outcome(200, "Your approval is counted.", record)
    extra = {"decided_via": via, "approvers": record["approvers"]}
    closed = services.store.close(approval_id, Decision.APPROVED, now, extra)
    if closed is None:  # a concurrent click closed it: that click sends the result
        return Outcome(200, "Your approval is counted.", services.store.get(approval_id))
    output = json.dumps(task_result(closed))
    send = partial(services.sfn.send_task_success, taskToken=closed["task_token"], output=output)
    if not _send_result(services, closed, send, list(extra)):  # the gate's TimeoutSeconds won the race
        late = services.store.overrule(approval_id, Decision.TIMED_OUT, "timeout")
        _finish(services, late)
        return Outcome(409, "Too late: this gate had already timed out.", late)
    _finish(services, closed)
    return Outcome(200, "Approved: the wave continues.", closed)


def _unsent_quorum(services: Services, approval_id: str, user: str) -> dict[str, Any] | None:
    """The record when `user` already voted and the gate is still pending with enough votes: an
    earlier attempt to send the result failed and reopened it, so this click sends it again."""
    record = services.store.get(approval_id)
    if record is None or record.get("status") != Decision.PENDING or user not in (record.get("votes") or {}):
        return None
    record = {**record, "approvers": approvers_of(record)}
    return record if len(record["approvers"]) >= required_approvals(record["policy"]) else None


def _reject(
    services: Services, approval_id: str, user: str, *, via: str, now: datetime, reason: str | None
) -> Outcome:
    extra = {"rejected_by": user, "decided_via": via, "reason": reason or ""}
    extra["approvers"] = approvers_of(services.store.get(approval_id) or {})
    closed = services.store.close(approval_id, Decision.REJECTED, now, extra)
    if closed is None:
        return Outcome(409, "This approval was already closed.")
    cause = f"rejected by {user} via {via}" + (f": {reason}" if reason else "")
    send = partial(
        services.sfn.send_task_failure,
        taskToken=closed["task_token"],
        error=ErrorName.REJECTED.value,
        cause=cause,
    )
    _send_result(services, closed, send, list(extra))  # False: the execution already ended (timed out)
    logger().info("approval rejected", extra={"approval_id": approval_id, "user": user, "via": via})
    _finish(services, closed)
    return Outcome(200, "Rejected: the wave stops and compensates.", closed)


def task_result(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "decision": record["status"],
        "approvers": list(record["approvers"]),
        "decided_at": record["decided_at"],
        "approval_id": record["approval_id"],
    }


GONE_TOKEN_CODES = ("TaskTimedOut", "TaskDoesNotExist", "InvalidToken")


def _send_result(
    services: Services, closed: dict[str, Any], send: Callable[[], Any], decided: list[str]
) -> bool:
    """Send the task result of a record just closed. True when Step Functions took it; False when it
    no longer waits for this token (timed out / execution ended).

    Any other failure (throttling, 5xx, a network error) leaves the execution waiting: the record is
    reopened to pending, votes kept, and the error re-raised so the click fails visibly (Slack shows an
    error, the CLI exits non-zero). The next click (or `wavectl approve`) of a voter sends it again.
    """
    try:
        send()
    except ClientError as exc:
        _log_result_error(closed, exc)
        if exc.response["Error"]["Code"] in GONE_TOKEN_CODES:
            return False
        _reopen(services, closed, decided)
        raise
    except Exception as exc:
        logger().warning(
            "task result not sent",
            extra={"approval_id": closed["approval_id"], "error": type(exc).__name__},
        )
        _reopen(services, closed, decided)
        raise
    return True


def _reopen(services: Services, closed: dict[str, Any], decided: list[str]) -> None:
    try:
        services.store.reopen(closed["approval_id"], Decision(closed["status"]), decided)
    except Exception as exc:  # the original error is what the clicker must see
        logger().error(
            "approval could not be reopened after a failed send",
            extra={"approval_id": closed["approval_id"], "error": type(exc).__name__},
        )


def _log_result_error(record: dict[str, Any], exc: ClientError) -> None:
    # the error message may quote the token: log its code only
    logger().warning(
        "task result not accepted by Step Functions",
        extra={"approval_id": record["approval_id"], "code": exc.response["Error"]["Code"]},
    )


def _finish(services: Services, record: dict[str, Any]) -> None:
    """Evidence, then the Slack message. Neither may undo a decision already sent to Step Functions:
    a failed evidence write is logged and flagged on the record (`evidence_error`) for follow-up."""
    try:
        key = evidence.write_decision(services.s3, record)
    except Exception as exc:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__)
        logger().error("evidence write failed", extra={"approval_id": record["approval_id"], "code": code})
        services.store.flag_evidence_error(record["approval_id"], str(code))
    else:
        services.store.set_evidence_key(record["approval_id"], key)
        record["evidence_key"] = key
    try:
        slack.update_message(record, services.groups)
    except Exception as exc:  # Slack down must not undo a decision
        logger().warning(
            "slack update failed", extra={"approval_id": record["approval_id"], "error": type(exc).__name__}
        )


def record_timeout(services: Services, execution: str, gate: str, now: datetime) -> dict[str, Any] | None:
    """Close the gate's approval as timed_out (once), write evidence and say so in Slack."""
    record = services.store.for_gate(execution, gate)
    if record is None:
        return None
    extra = {"decided_via": "timeout", "approvers": approvers_of(record)}
    closed = services.store.close(record["approval_id"], Decision.TIMED_OUT, now, extra)
    if closed is None:
        return services.store.get(record["approval_id"])
    logger().info("approval timed out", extra={"approval_id": closed["approval_id"], "gate": gate})
    _finish(services, closed)
    return closed
