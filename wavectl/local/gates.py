"""Answering approval gates offline exactly as Slack would: signed `block_actions` interaction payloads
delivered to the real callback function (API Gateway proxy event shape), so a rehearsal exercises
signature verification, group and four-eyes checks, vote counting and SendTaskSuccess.

`answer_pending_gates` is what the demo runs while a wave waits; `click` is what the local Slack page
sends when a person presses a button.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Collection
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from tasks.contracts import (
    APPROVAL_CALLBACK_TASK,
    APPROVAL_GATE,
    APPROVAL_STATUS,
    Decision,
    required_approvals,
)
from wavectl import approvals
from wavectl.runbook import Runbook

if TYPE_CHECKING:
    from wavectl.local.engine import LocalCloud

APPROVE_ACTION, REJECT_ACTION = "wavectl_approve", "wavectl_reject"  # tasks.approvals.slack action ids
INTERACTIONS_PATH = "/slack/interactions"


def callback_function(runbook: Runbook) -> str:
    return runbook.control_function_name(APPROVAL_CALLBACK_TASK)


def slack_signature(secret: str, timestamp: int, body: str) -> str:
    """`v0=` + hex HMAC-SHA256 of `v0:{timestamp}:{body}`, as Slack signs its requests."""
    return "v0=" + hmac.new(secret.encode(), f"v0:{timestamp}:{body}".encode(), hashlib.sha256).hexdigest()


def interaction_payload(
    record: dict[str, Any], user: str, action: str, response_url: str | None
) -> dict[str, Any]:
    """A Slack `block_actions` payload for a click on the approval message of `record`."""
    action_id = APPROVE_ACTION if action == "approve" else REJECT_ACTION
    channel, ts = record.get("channel"), record.get("message_ts")
    return {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "team_id": "TWAVECTL"},
        "team": {"id": "TWAVECTL", "domain": "wavectl-local"},
        "api_app_id": "AWAVECTL",
        "channel": {"id": channel},
        "container": {"type": "message", "channel_id": channel, "message_ts": ts},
        "response_url": response_url,
        "trigger_id": f"local.{time.time_ns()}",
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": f"wavectl:{record['approval_id']}",
                "value": record["approval_id"],
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }


def signed_request(payload: dict[str, Any], secret: str, timestamp: int | None = None) -> tuple[str, dict]:
    """The form-encoded body and headers of Slack's POST for `payload`, signed with `secret`."""
    body = urlencode({"payload": json.dumps(payload)})
    stamp = int(time.time()) if timestamp is None else timestamp
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
        "X-Slack-Request-Timestamp": str(stamp),
        "X-Slack-Signature": slack_signature(secret, stamp, body),
    }
    return body, headers


def signed_event(payload: dict[str, Any], secret: str, timestamp: int | None = None) -> dict[str, Any]:
    """The API Gateway (REST, proxy) event Slack's POST to the interactivity URL becomes."""
    from wavectl.local.slack_endpoint import api_gateway_event

    body, headers = signed_request(payload, secret, timestamp)
    return api_gateway_event(
        method="POST",
        path=INTERACTIONS_PATH,
        headers=list(headers.items()),
        body=body.encode(),
        source_ip="127.0.0.1",
    )


def signing_secret(cloud: LocalCloud) -> str:
    name = cloud.runbook.program.slack.signing_secret
    return cloud.session.client("secretsmanager").get_secret_value(SecretId=name)["SecretString"]


def click(cloud: LocalCloud, approval_id: str, user: str, action: str) -> dict[str, Any]:
    """Press Approve/Reject on an approval message as `user`; the callback's HTTP response."""
    record = approvals.approval_record(cloud.session, cloud.runbook.approvals_table_name(), approval_id)
    if record is None:
        return {"statusCode": 404, "body": json.dumps({"message": f"no approval {approval_id}"})}
    response_url = None
    if record.get("channel") and record.get("message_ts"):
        response_url = cloud.slack.response_url(record["channel"], record["message_ts"])
    payload = interaction_payload(record, user, action, response_url)
    if cloud.slack_interactions_url:  # `local up`: through the HTTP route, exactly as Slack would
        from wavectl.local.slack_endpoint import post_click

        body, headers = signed_request(payload, signing_secret(cloud))
        return post_click(cloud.slack_interactions_url, body, headers)
    return cloud.invoke_function(
        callback_function(cloud.runbook), signed_event(payload, signing_secret(cloud))
    )


CLICK_ATTEMPTS = 4  # a person whose click got an error clicks again, a few times
CLICK_PAUSE_SECONDS = 0.2


def click_until_answered(cloud: LocalCloud, approval_id: str, user: str, action: str) -> dict[str, Any]:
    """`click`, pressed again (as a person would) while the click gets an error instead of an answer:
    the function failed (API Gateway's 502), or its signature check refused the click (401: a lost
    response made the first attempt's signature look replayed). The last response is returned."""
    from wavectl.local.engine import FunctionFailed

    response: dict[str, Any] = {}
    for attempt in range(CLICK_ATTEMPTS):
        if attempt:
            time.sleep(CLICK_PAUSE_SECONDS)
        try:
            response = click(cloud, approval_id, user, action)
        except FunctionFailed as failed:
            response = {"statusCode": 502, "body": json.dumps({"message": str(failed)})}
            continue
        if response.get("statusCode") not in (401, 500, 502, 503, 504):
            break
    return response


def approvers_to_click(runbook: Runbook, record: dict[str, Any]) -> list[str]:
    """The first `required` members of the gate's group who are not the requester."""
    policy = record.get("policy") or {}
    requester = set(record.get("requester_ids") or []) | {record.get("requester")}
    members = [m.slack for m in runbook.program.group(policy.get("group", "")) if m.slack not in requester]
    return members[: required_approvals(policy) if policy else 1]


def answer_pending_gates(
    cloud: LocalCloud, runbook: Runbook, execution_arn: str, *, reject_gates: Collection[str] = ()
) -> None:
    """Approve every pending gate of the execution through signed Slack clicks (idempotent; the demo
    calls it while the wave runs). Gates named in `reject_gates` are rejected by their first approver
    instead (rehearsing a rejection without racing the approvals)."""
    for record in approvals.execution_records(cloud.session, runbook.approvals_table_name(), execution_arn):
        if record.get(APPROVAL_STATUS, Decision.PENDING) != Decision.PENDING:
            continue
        clickers = approvers_to_click(runbook, record)
        if record.get(APPROVAL_GATE) in reject_gates:
            click_until_answered(cloud, record["approval_id"], clickers[0], "reject")
            continue
        voted = set(record.get("votes") or {})
        waiting = [user for user in clickers if user not in voted]
        # every approver voted and the gate is still pending: sending its result failed after the
        # closing vote (the record was reopened), so the last approver clicks again to resend it
        for user in waiting or clickers[-1:]:
            click_until_answered(cloud, record["approval_id"], user, "approve")
