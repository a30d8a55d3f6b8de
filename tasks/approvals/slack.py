"""Slack messages of a gate (Block Kit), sent with the real slack_sdk clients.

Buttons carry the approval id only; the task token is never part of anything built here.
"""

from __future__ import annotations

from typing import Any

from slack_sdk import WebClient
from slack_sdk.webhook import WebhookClient

from tasks.approvals import config
from tasks.approvals.config import Member
from tasks.approvals.readable import summary_blocks
from tasks.approvals.store import approvers_of
from tasks.contracts import Decision, required_approvals

APPROVE_ACTION = "wavectl_approve"
REJECT_ACTION = "wavectl_reject"
SLACK_TIMEOUT_SECONDS = 2  # the callback must answer Slack within 3 s


def web_client() -> WebClient:
    return WebClient(token=config.bot_token(), base_url=config.slack_api_url(), timeout=SLACK_TIMEOUT_SECONDS)


def mentions(members: list[Member]) -> str:
    return ", ".join(f"<@{m.slack}>" for m in members) or "nobody"


def _header(record: dict[str, Any]) -> str:
    return f"Approval needed: {record['wave']} v{record['runbook_version']} · gate {record['gate']}"


def _facts(record: dict[str, Any], groups: dict[str, list[Member]]) -> list[dict[str, str]]:
    policy = record["policy"]
    who = f"{policy['group']}: {mentions(groups.get(policy['group'], []))}"
    if policy.get("escalate_to"):
        who += f" (then {policy['escalate_to']})"
    requester = record.get("requester") or "unknown"
    known = {m.slack for members in groups.values() for m in members}
    requester = f"<@{requester}>" if requester in known else requester  # Slack shows the person's name
    source = record.get("requester_source")
    if source == "cloudtrail":
        requester += " (CloudTrail)"
        if record.get("requester_input") and record["requester_input"] != record.get("requester"):
            requester += f"; input says {record['requester_input']}"
    elif source == "input":
        requester += " (execution input)"
    return [
        {"type": "mrkdwn", "text": f"*Wave*\n{record['wave']} ({record.get('kind', '')})"},
        {"type": "mrkdwn", "text": f"*Runbook version*\nv{record['runbook_version']}"},
        {"type": "mrkdwn", "text": f"*Who may approve*\n{who}"},
        {"type": "mrkdwn", "text": f"*Approvals needed*\n{policy['required']} distinct"},
        {"type": "mrkdwn", "text": f"*Requested by*\n{requester}"},
        {"type": "mrkdwn", "text": f"*Deadline*\n{record['expires_at']}"},
    ]


def _buttons(approval_id: str) -> dict[str, Any]:
    return {
        "type": "actions",
        "block_id": f"wavectl:{approval_id}",
        "elements": [
            {
                "type": "button",
                "action_id": APPROVE_ACTION,
                "text": {"type": "plain_text", "text": "Approve"},
                "style": "primary",
                "value": approval_id,
            },
            {
                "type": "button",
                "action_id": REJECT_ACTION,
                "text": {"type": "plain_text", "text": "Reject"},
                "style": "danger",
                "value": approval_id,
                "confirm": {
                    "title": {"type": "plain_text", "text": "Reject this gate?"},
                    "text": {"type": "plain_text", "text": "The wave stops and compensates."},
                    "confirm": {"type": "plain_text", "text": "Reject"},
                    "deny": {"type": "plain_text", "text": "Cancel"},
                },
            },
        ],
    }


def progress_text(record: dict[str, Any]) -> str:
    status = record["status"]
    voters = record.get("approvers") or approvers_of(record)
    approvers = ", ".join(f"<@{u}>" for u in voters)
    when = record.get("decided_at", "")
    if status == Decision.APPROVED:
        return f":white_check_mark: Approved by {approvers} at {when}"
    if status == Decision.REJECTED:
        reason = f": {record['reason']}" if record.get("reason") else ""
        return f":x: Rejected by <@{record.get('rejected_by')}> at {when}{reason}"
    if status == Decision.TIMED_OUT:
        return f":hourglass: Timed out at {when} with no decision; the wave did not proceed"
    required = required_approvals(record["policy"])
    count = len(voters)
    return f"{count} of {required} approvals" + (f": {approvers}" if approvers else "")


def message_blocks(record: dict[str, Any], groups: dict[str, list[Member]]) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _header(record)[:150]}},
        *summary_blocks(str(record.get("summary") or "")),  # readable: no JSON, "not verified" marked
        {"type": "section", "fields": _facts(record, groups)},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": progress_text(record)}]},
    ]
    if record["status"] == Decision.PENDING:
        blocks.append(_buttons(record["approval_id"]))
    return blocks


def fallback_text(record: dict[str, Any]) -> str:
    return f"{_header(record)}: {progress_text(record)}"


def thread_metadata(execution: str, wave: str, what: str) -> dict[str, Any]:
    """Slack message metadata: which execution a message belongs to (one thread per execution)."""
    payload = {"execution": execution, "wave": wave, "what": what}
    return {"event_type": "wavectl_execution", "event_payload": payload}


def post_request(
    record: dict[str, Any], groups: dict[str, list[Member]], thread: tuple[str, str] | None = None
) -> tuple[str, str]:
    """Post the gate's message: the execution's first message starts its thread, later gates reply in it
    (broadcast to the channel, so the approvers still see them)."""
    threading: dict[str, Any] = {"thread_ts": thread[1], "reply_broadcast": True} if thread else {}
    response = web_client().chat_postMessage(
        channel=thread[0] if thread else config.channel(),
        text=fallback_text(record),
        blocks=message_blocks(record, groups),
        metadata=thread_metadata(record["execution"], record["wave"], f"gate {record['gate']}"),
        **threading,
    )
    return response["channel"], response["ts"]


def update_message(record: dict[str, Any], groups: dict[str, list[Member]]) -> None:
    if not record.get("message_ts"):
        return
    web_client().chat_update(
        channel=record["channel"],
        ts=record["message_ts"],
        text=fallback_text(record),
        blocks=message_blocks(record, groups),
    )


def reply_in_thread(record: dict[str, Any], text: str) -> None:
    """A reply about a gate (reminder, escalation, voided vote) in its execution's thread."""
    if not record.get("message_ts"):
        return
    thread_ts = record.get("thread_ts") or record["message_ts"]
    web_client().chat_postMessage(channel=record["channel"], thread_ts=thread_ts, text=text)


def respond(
    response_url: str, *, text: str, blocks: list[dict[str, Any]] | None = None, ephemeral: bool
) -> None:
    """Answer a click through its response_url: an ephemeral note, or a replaced original message."""
    client = WebhookClient(response_url, timeout=SLACK_TIMEOUT_SECONDS)
    if ephemeral:
        client.send(text=text, response_type="ephemeral", replace_original=False)
    else:
        client.send(text=text, blocks=blocks, replace_original=True)


def post_in_thread(thread: tuple[str, str], text: str, blocks: list[dict[str, Any]], metadata: dict) -> None:
    """A reply in an execution's thread (its end, say)."""
    web_client().chat_postMessage(
        channel=thread[0], thread_ts=thread[1], text=text, blocks=blocks, metadata=metadata
    )


def post_root(text: str, blocks: list[dict[str, Any]], metadata: dict) -> tuple[str, str]:
    """A new message in the approvals channel that starts an execution's thread; its (channel, ts)."""
    response = web_client().chat_postMessage(
        channel=config.channel(), text=text, blocks=blocks, metadata=metadata
    )
    return response["channel"], response["ts"]
