"""The approvals API (API Gateway proxy): Slack interactivity and the IAM-authorised CLI fallback.

Slack: `POST /slack/interactions`. Before anything is parsed: a method other than POST gets 405, a body
over 64 kB gets 413, and any malformed signature input (a timestamp that is not whole seconds, a
signature that is not `v0=<64 hex>`, a body that is not UTF-8 or not valid base64, headers that are not
a map) gets 401, as does a bad, missing, stale or replayed signature (slack_sdk SignatureVerifier,
5-minute window). The click is answered within Slack's 3 seconds: the decision is committed first,
then `chat.update` and the `response_url` answer run side by side for at most
`SLACK_DEADLINE_SECONDS` (anything still running then finishes in the background).

CLI: `POST /cli/approvals/{approval_id}/{approve|reject|abort}` with IAM auth: API Gateway verifies the
SigV4 signature and hands over the caller's ARN, which must be an approver's `iam` ARN in the runbook.
"""

from __future__ import annotations

import base64
import binascii
import contextvars
import json
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from slack_sdk.signature import SignatureVerifier

from tasks.approvals import abort, approver_role, config, slack
from tasks.approvals.decisions import Outcome, Services, decide
from tasks.approvals.request import services as make_services
from tasks.approvals.rules import APPROVE, REJECT, member_for_arn
from tasks.common.logging import logger
from tasks.contracts import ABORT_ACTION

ACTIONS = {slack.APPROVE_ACTION: APPROVE, slack.REJECT_ACTION: REJECT}


def _response(status: int, body: dict[str, Any] | str = "") -> dict[str, Any]:
    text = body if isinstance(body, str) else json.dumps(body)
    return {"statusCode": status, "headers": {"content-type": "application/json"}, "body": text}


MAX_BODY_BYTES = 64 * 1024  # Slack's interaction payloads are a few kB; nothing larger is parsed
SLACK_DEADLINE_SECONDS = 1.5  # the Slack updates of a click may use this much of Slack's 3 s
_TIMESTAMP = re.compile(r"^[0-9]{1,12}$")
_SIGNATURE = re.compile(r"^v0=[0-9a-f]{64}$")
_slack_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="slack-answer")


class Refused(Exception):
    """A request refused before parsing: its HTTP status and message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _method(event: dict[str, Any]) -> str:
    http = ((event.get("requestContext") or {}).get("http") or {}).get("method")
    return str(event.get("httpMethod") or http or "").upper()


def _raw_body(event: dict[str, Any]) -> bytes:
    """The body as bytes, refusing oversize (413) or undecodable (401) input before any parsing."""
    body = event.get("body") or ""
    if not isinstance(body, str):
        raise Refused(401, "malformed body")
    if len(body) > MAX_BODY_BYTES * 4 // 3 + 4:
        raise Refused(413, "request body too large")
    try:
        raw = base64.b64decode(body, validate=True) if event.get("isBase64Encoded") else body.encode()
    except (binascii.Error, ValueError, UnicodeEncodeError) as exc:
        raise Refused(401, "malformed body") from exc
    if len(raw) > MAX_BODY_BYTES:
        raise Refused(413, "request body too large")
    return raw


def _body(event: dict[str, Any]) -> str:
    try:
        return _raw_body(event).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Refused(401, "malformed body") from exc


def _headers(event: dict[str, Any]) -> dict[str, str]:
    headers = event.get("headers") or {}
    if not isinstance(headers, dict):
        return {}
    return {str(k).lower(): v for k, v in headers.items() if isinstance(v, str)}


def verified(event: dict[str, Any], signing_secret: str) -> bool:
    """The Slack signature is valid. Malformed input (see the module doc) is simply not valid."""
    headers = _headers(event)
    timestamp, signature = headers.get("x-slack-request-timestamp", ""), headers.get("x-slack-signature", "")
    if not _TIMESTAMP.match(timestamp) or not _SIGNATURE.match(signature):
        return False
    try:
        body = _body(event)
    except Refused:
        return False
    return SignatureVerifier(signing_secret).is_valid(body=body, timestamp=timestamp, signature=signature)


def precheck(event: dict[str, Any]) -> None:
    """Method and size, before anything else: raises Refused (405, 413, 401)."""
    if _method(event) != "POST":
        raise Refused(405, "only POST is accepted")
    _raw_body(event)


def slack_interaction(event: dict[str, Any], services: Services, now: datetime) -> dict[str, Any]:
    if not verified(event, config.signing_secret()):
        logger().warning("slack request refused: bad, missing, malformed or stale signature")
        return _response(401, {"message": "invalid signature"})
    if not services.store.first_use_of_signature(_headers(event)["x-slack-signature"], now):
        logger().warning("slack request refused: replay of an accepted request")
        return _response(401, {"message": "replayed request"})
    try:
        payload = json.loads(parse_qs(_body(event)).get("payload", ["{}"])[0])
    except ValueError:
        return _response(400, {"message": "payload is not JSON"})
    if not isinstance(payload, dict) or payload.get("type") != "block_actions":
        return _response(200)
    actions = payload.get("actions") if isinstance(payload.get("actions"), list) else []
    action = next((a for a in actions if isinstance(a, dict) and a.get("action_id") in ACTIONS), None)
    if action is None or not isinstance(action.get("value"), str):
        return _response(200)
    user = str((payload.get("user") or {}).get("id", "")) if isinstance(payload.get("user"), dict) else ""
    outcome = decide(
        services, action["value"], user, ACTIONS[action["action_id"]], via="slack", now=now, notify=False
    )
    _answer_click(payload.get("response_url"), outcome, services)
    return _response(200)


def _answer_click(response_url: Any, outcome: Outcome, services: Services) -> None:
    """Tell Slack: the clicker through `response_url` and, when the gate closed, the channel message
    through chat.update, side by side, waiting at most SLACK_DEADLINE_SECONDS."""
    calls: list[Callable[[], None]] = []
    record = outcome.record
    if isinstance(response_url, str) and response_url:
        if outcome.changed and record is not None:
            text, blocks = slack.fallback_text(record), slack.message_blocks(record, services.groups)
            calls.append(lambda: slack.respond(response_url, text=text, blocks=blocks, ephemeral=False))
        else:
            calls.append(lambda: slack.respond(response_url, text=outcome.message, ephemeral=True))
    if outcome.changed and record is not None and record.get("status") != "pending":
        calls.append(lambda: slack.update_message(record, services.groups))
    run_within_deadline(calls)


def run_within_deadline(calls: list[Callable[[], None]], deadline: float = SLACK_DEADLINE_SECONDS) -> None:
    """Run the Slack calls in parallel; return when all are done or the deadline passes. A failed
    or late Slack call never undoes a decision (it is logged)."""
    # each call runs in a copy of this context: the function's settings travel with it (the embedded
    # runtime keeps them in a context variable, not in os.environ)
    futures = [_slack_pool.submit(contextvars.copy_context().run, _logged, call) for call in calls]
    _done, late = wait(futures, timeout=deadline)
    if late:
        logger().warning("slack answer still running at the deadline", extra={"late": len(late)})


def _logged(call: Callable[[], None]) -> None:
    try:
        call()
    except Exception as exc:  # the decision stands even when Slack cannot be told
        logger().warning("slack answer failed", extra={"error": type(exc).__name__})


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
    if not approver_role.session_is_pinned(services.iam, caller):
        logger().warning("cli decision refused: session name not pinned", extra={"caller": caller})
        return _response(
            403,
            {
                "message": f"{caller}: the role's trust policy lets callers choose their session name; "
                "pin sts:RoleSessionName to ${aws:username} or require sts:SourceIdentity"
            },
        )
    try:
        body = json.loads(_body(event) or "{}")
    except ValueError:
        return _response(400, {"message": "body is not JSON"})
    reason = str((body if isinstance(body, dict) else {}).get("reason") or "").strip()[:500] or None
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
    if not isinstance(event, dict):
        return _response(400, {"message": "not an API Gateway proxy event"})
    try:
        precheck(event)
    except Refused as refused:
        logger().warning("request refused before parsing", extra={"status": refused.status})
        return _response(refused.status, {"message": str(refused)})
    path = str(event.get("resource") or event.get("path") or event.get("rawPath") or "")
    try:
        if path.startswith("/cli/"):
            return cli_decision(event, make_services(iam=True), now)
        return slack_interaction(event, make_services(), now)
    except Refused as refused:  # a body that is not UTF-8 (the CLI route reads it after the IAM check)
        return _response(refused.status, {"message": str(refused)})
