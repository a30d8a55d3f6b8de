"""The Slack message a rollback posts: which alarms tripped, and the weights before and after."""

from __future__ import annotations

from typing import Any

from tasks.approvals import slack
from tasks.approvals.config import channel


def _weights(weights: dict[str, dict[str, int | None]]) -> str:
    return ", ".join(f"{name.rstrip('.')} {w['old']}/{w['new']}" for name, w in weights.items()) or "none"


def rollback_text(wave: str, error: dict[str, Any], result: dict[str, Any]) -> str:
    reason = str(error.get("Cause") or error.get("Error") or "the wave failed")
    done = "rolled back" if result["changed"] else "was already on the old targets"
    return f"Wave {wave} {done} (old/new): {_weights(result['weights_after'])}. Reason: {reason}"


def rollback_blocks(wave: str, error: dict[str, Any], result: dict[str, Any]) -> list[dict[str, Any]]:
    change = result.get("change") or {}
    fields = [
        ("Error", str(error.get("Error") or "unknown")),
        ("Weights before (old/new)", _weights(result["weights_before"])),
        ("Weights after (old/new)", _weights(result["weights_after"])),
        ("Route 53 change", f"{change.get('id', 'none needed')} {change.get('status', '')}".strip()),
    ]
    return [
        {"type": "header", "text": {"type": "plain_text", "text": f"Rolled back: {wave}"[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": str(error.get("Cause") or "")[:2900] or " "}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{v}"[:2000]} for k, v in fields]},
    ]


def post_rollback(wave: str, error: dict[str, Any], result: dict[str, Any]) -> str | None:
    """Post the rollback to the program's channel; the message ts (None if Slack is down)."""
    try:
        response = slack.web_client().chat_postMessage(
            channel=channel(),
            text=rollback_text(wave, error, result),
            blocks=rollback_blocks(wave, error, result),
        )
    except Exception:  # Slack down: the rollback itself is done and recorded as evidence
        return None
    return response.get("ts")
