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
from tasks.approvals.rules import APPROVE, REJECT, iso, refusal
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
    iam: Any = None  # iam client (the callback only): approver roles' trust policies (GetRole)


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
    notify: bool = True,
) -> Outcome:
    """`identities`: further verified identities of the voter (the CLI caller's IAM ARN).
    `notify`: update the channel message when the gate closes (the Slack route does it itself, in
    parallel with its response_url answer)."""
    record = services.store.get(approval_id)
    refused = refusal(record, user, action, services.groups, now, identities)
    log = {"approval_id": approval_id, "user": user, "action": action, "via": via}
    if refused is not None:
        if action != REJECT and _eligible_on_the_open_gate(record, user, services, now, identities):
            late = _record_late(services, approval_id, user, _vote(user, via, now, reason))
            if late is not None:
                return late
        logger().info("decision refused", extra={**log, "why": refused})
        return Outcome(403 if record and record.get("status") == Decision.PENDING else 409, refused, record)
    assert record is not None  # refusal() refuses a missing record
    ended = execution_status(services, record)
    if ended is not None:
        return _close_ended(services, record, ended, now, notify=notify)
    if action == REJECT:
        return _reject(services, approval_id, user, via=via, now=now, reason=reason, notify=notify)
    return _approve(services, approval_id, user, via=via, now=now, reason=reason, notify=notify)


def execution_status(services: Services, record: dict[str, Any]) -> str | None:
    """The status of the gate's execution when it is no longer running (ABORTED, FAILED, ...), else
    None. A vote on an ended execution would be counted, closed and written as evidence for a wave
    that can no longer proceed. When Step Functions cannot be asked, None: the task result's own
    refusal (a gone token) still catches an ended execution."""
    try:
        status = services.sfn.describe_execution(executionArn=record["execution"]).get("status")
    except Exception as exc:
        logger().warning(
            "execution status unavailable",
            extra={"approval_id": record["approval_id"], "error": type(exc).__name__},
        )
        return None
    return None if status in (None, "RUNNING", "PENDING_REDRIVE") else str(status)


def _close_ended(
    services: Services, record: dict[str, Any], status: str, now: datetime, *, notify: bool
) -> Outcome:
    approval_id = record["approval_id"]
    extra = {"decided_via": "execution_ended", "execution_status": status, "approvers": approvers_of(record)}
    closed = services.store.close(approval_id, Decision.EXECUTION_ENDED, now, extra)
    message = f"This wave's execution has ended ({status}); votes no longer count."
    logger().info("vote refused: execution ended", extra={"approval_id": approval_id, "status": status})
    if closed is not None:
        _finish(services, closed, notify=True)
    return Outcome(409, message, closed or services.store.get(approval_id))


def _vote(user: str, via: str, now: datetime, reason: str | None) -> dict[str, Any]:
    return {"at": iso(now), "via": via, **({"reason": reason} if reason else {})}


def _approve(
    services: Services,
    approval_id: str,
    user: str,
    *,
    via: str,
    now: datetime,
    reason: str | None,
    notify: bool,
) -> Outcome:
    vote = _vote(user, via, now, reason)
    record = services.store.add_vote(approval_id, user, vote)
    if record is None:
        record = _unsent_quorum(services, approval_id, user)
        if record is None:  # a double click, or the gate closed since it was read: then it is late
            late = _record_late(services, approval_id, user, vote)
            return late or Outcome(409, "Your approval was already counted (or the gate just closed).")
        logger().info("approval result resent", extra={"approval_id": approval_id, "user": user, "via": via})
    else:
        logger().info("approval counted", extra={"approval_id": approval_id, "user": user, "via": via})
    if len(record["approvers"]) < required_approvals(record["policy"]):
        return Outcome(200, "Your approval is counted.", record)
    extra = {"decided_via": via, "approvers": record["approvers"]}
    closed = services.store.close(approval_id, Decision.APPROVED, now, extra)
    if closed is None:  # a concurrent click closed it and sends the result; without this vote: late
        late = _record_late(services, approval_id, user, (record.get("votes") or {}).get(user, vote))
        return late or Outcome(200, "Your approval is counted.", services.store.get(approval_id))
    output = json.dumps(task_result(closed))
    send = partial(services.sfn.send_task_success, taskToken=closed["task_token"], output=output)
    if not _send_result(services, closed, send, list(extra)):  # the gate's TimeoutSeconds won the race
        return _too_late(services, approval_id, notify=notify)
    _finish(services, closed, notify=notify)
    return Outcome(200, "Approved: the wave continues.", closed)


def _eligible_on_the_open_gate(
    record: dict[str, Any] | None, user: str, services: Services, now: datetime, identities: tuple[str, ...]
) -> bool:
    """`user` clicked Approve on a closed gate they could have approved while it was open."""
    if record is None or record.get("status") == Decision.PENDING:
        return False
    reopened = {**record, "status": Decision.PENDING.value}
    return refusal(reopened, user, APPROVE, services.groups, now, identities) is None


def _record_late(services: Services, approval_id: str, user: str, vote: dict[str, Any]) -> Outcome | None:
    """An approval that came after the gate closed without it (a click racing past the required count,
    or one after the decision): kept under `late_votes`, never counted, never sent to Step Functions.
    None when the vote is not late (it is among the decision's approvers, or the gate is pending)."""
    record = services.store.get(approval_id)
    if record is None or record.get("status") == Decision.PENDING:
        return None
    if user in (record.get("approvers") or []):
        return None
    status = record["status"]
    recorded = services.store.record_late_vote(approval_id, user, {**vote, "gate_status": status})
    logger().info("late vote", extra={"approval_id": approval_id, "user": user, "recorded": bool(recorded)})
    return Outcome(409, f"This gate had already closed ({status}); your approval is recorded as late.",
                   recorded or services.store.get(approval_id))  # fmt: skip


def _too_late(services: Services, approval_id: str, *, notify: bool) -> Outcome:
    """Step Functions no longer waits for the token (the gate timed out first): the record and the
    evidence say timed_out, whatever the vote was."""
    late = services.store.overrule(approval_id, Decision.TIMED_OUT, "timeout")
    _finish(services, late, notify=True)
    return Outcome(409, "Too late: this gate had already timed out.", late)


def _unsent_quorum(services: Services, approval_id: str, user: str) -> dict[str, Any] | None:
    """The record when `user` already voted and the gate is still pending with enough votes: an
    earlier attempt to send the result failed and reopened it, so this click sends it again."""
    record = services.store.get(approval_id)
    if record is None or record.get("status") != Decision.PENDING or user not in (record.get("votes") or {}):
        return None
    record = {**record, "approvers": approvers_of(record)}
    return record if len(record["approvers"]) >= required_approvals(record["policy"]) else None


def _reject(
    services: Services,
    approval_id: str,
    user: str,
    *,
    via: str,
    now: datetime,
    reason: str | None,
    notify: bool,
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
    if not _send_result(services, closed, send, list(extra)):  # the gate's TimeoutSeconds won the race
        return _too_late(services, approval_id, notify=notify)
    logger().info("approval rejected", extra={"approval_id": approval_id, "user": user, "via": via})
    _finish(services, closed, notify=notify)
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


def _finish(services: Services, record: dict[str, Any], *, notify: bool = True) -> None:
    """Evidence, then (with `notify`) the Slack message. Neither may undo a decision already sent to
    Step Functions: a failed evidence write is logged and flagged on the record (`evidence_error`)."""
    try:
        key = evidence.write_decision(services.s3, record)
    except Exception as exc:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__)
        logger().error("evidence write failed", extra={"approval_id": record["approval_id"], "code": code})
        services.store.flag_evidence_error(record["approval_id"], str(code))
    else:
        services.store.set_evidence_key(record["approval_id"], key)
        record["evidence_key"] = key
    if not notify:
        return
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
