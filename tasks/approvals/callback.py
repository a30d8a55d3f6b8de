"""The approvals API (API Gateway proxy): Slack interactivity and the IAM-authorised CLI fallback.

Slack: `POST /slack/interactions`. The signature is verified (slack_sdk SignatureVerifier, 5-minute
window) before anything is parsed; a bad, missing, stale or replayed signature gets 401 and has no
effect. The click is answered within Slack's 3 seconds (Slack calls time out after 2 s).

CLI: `POST /cli/approvals/{approval_id}/{approve|reject|abort}` with IAM auth: API Gateway verifies the
SigV4 signature and hands over the caller's ARN, which must be an approver's `iam` ARN in the runbook.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from slack_sdk.signature import SignatureVerifier

from tasks.approvals import abort, config, slack
from tasks.approvals.decisions import Outcome, Services, decide
from tasks.approvals.request import services as make_services
from tasks.approvals.rules import APPROVE, REJECT, member_for_arn
from tasks.common.logging import logger
from tasks.contracts import ABORT_ACTION

ACTIONS = {slack.APPROVE_ACTION: APPROVE, slack.REJECT_ACTION: REJECT}


def _response(status: int, body: dict[str, Any] | str = "") -> dict[str, Any]:
    text = body if isinstance(body, str) else json.dumps(body)
    return {"statusCode": status, "headers": {"content-type": "application/json"}, "body": text}


def _body(event: dict[str, Any]) -> str:
    body = event.get("body") or ""
    return base64.b64decode(body).decode() if event.get("isBase64Encoded") else body


def _headers(event: dict[str, Any]) -> dict[str, str]:
    return {k.lower(): v for k, v in (event.get("headers") or {}).items() if isinstance(v, str)}


def verified(event: dict[str, Any], signing_secret: str) -> bool:
    headers = _headers(event)
    return SignatureVerifier(signing_secret).is_valid(
        body=_body(event),
        timestamp=headers.get("x-slack-request-timestamp"),
        signature=headers.get("x-slack-signature"),
    )


def slack_interaction(event: dict[str, Any], services: Services, now: datetime) -> dict[str, Any]:
    if not verified(event, config.signing_secret()):
        logger().warning("slack request refused: bad, missing or stale signature")
        return _response(401, {"message": "invalid signature"})
    if not services.store.first_use_of_signature(_headers(event)["x-slack-signature"], now):
        logger().warning("slack request refused: replay of an accepted request")
        return _response(401, {"message": "replayed request"})
    payload = json.loads(parse_qs(_body(event)).get("payload", ["{}"])[0])
    if payload.get("type") != "block_actions":
        return _response(200)
    action = next((a for a in payload.get("actions", []) if a.get("action_id") in ACTIONS), None)
    if action is None:
        return _response(200)
    user = payload.get("user", {}).get("id", "")
    outcome = decide(services, action["value"], user, ACTIONS[action["action_id"]], via="slack", now=now)
    _answer_click(payload.get("response_url"), outcome, services)
    return _response(200)


def _answer_click(response_url: str | None, outcome: Outcome, services: Services) -> None:
    if not response_url:
        return
    try:
        if outcome.changed and outcome.record is not None:
            record = outcome.record
            slack.respond(
                response_url,
                text=slack.fallback_text(record),
                blocks=slack.message_blocks(record, services.groups),
                ephemeral=False,
            )
        else:
            slack.respond(response_url, text=outcome.message, ephemeral=True)
    except Exception as exc:  # the decision stands even when Slack cannot be told
        logger().warning("response_url update failed", extra={"error": type(exc).__name__})


def cli_decision(event: dict[str, Any], services: Services, now: datetime) -> dict[str, Any]:
    params = event.get("pathParameters") or {}
    action, approval_id = params.get("action"), params.get("approval_id", "")
    if action not in (APPROVE, REJECT, ABORT_ACTION):
        return _response(404, {"message": f"unknown action {action!r}"})
    caller = ((event.get("requestContext") or {}).get("identity") or {}).get("userArn") or ""
    member = member_for_arn(caller, services.groups)
    if member is None:
        logger().info("cli decision refused: caller is no approver", extra={"caller": caller})
        return _response(403, {"message": f"{caller or 'caller'} is not an approver's IAM identity"})
    reason = (json.loads(_body(event) or "{}").get("reason") or "").strip() or None
    if action == ABORT_ACTION:  # a decommission's cool-off (the rules of a rejection)
        aborted = abort.abort_cool_off(services, approval_id, member, caller, reason, now)
        return _response(aborted.status_code, {"message": aborted.message, "approver": member.slack})
    outcome = decide(
        services, approval_id, member.slack, action, via="cli", now=now, reason=reason, identities=(caller,)
    )
    if outcome.changed and outcome.record is not None and outcome.record["status"] == "pending":
        _update_progress(outcome.record, services)
    return _response(outcome.status_code, {"message": outcome.message, "approver": member.slack})


def _update_progress(record: dict[str, Any], services: Services) -> None:
    try:
        slack.update_message(record, services.groups)
    except Exception as exc:
        logger().warning("slack update failed", extra={"error": type(exc).__name__})


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    path = event.get("resource") or event.get("path") or event.get("rawPath") or ""
    if path.startswith("/cli/"):
        return cli_decision(event, make_services(), now)
    return slack_interaction(event, make_services(), now)
