"""Slack messages of the dual run: each day's summary.txt, the switch, a rollback. Never a token."""

from __future__ import annotations

from tasks.approvals import slack
from tasks.approvals.config import channel


def post(text: str) -> str | None:
    """Post to the program's channel; the message ts (None if Slack is down: evidence has it all)."""
    try:
        response = slack.web_client().chat_postMessage(channel=channel(), text=text[:3900])
    except Exception:
        return None
    return response.get("ts")
