"""Slack messages of the dual run: each day's summary.txt, the switch, a rollback. Never a token.

A message goes into the execution's thread (rooted at its first gate message, `thread_of`) when the
function knows the approvals table, else (or with no thread yet) to the program's channel.
"""

from __future__ import annotations

from typing import Any

from tasks.approvals import slack
from tasks.approvals.config import channel
from tasks.common.settings import setting
from tasks.contracts import ENV_APPROVALS_TABLE, ENV_WAVE

SLACK_TEXT_LIMIT = 2900  # a section block's text holds at most 3000 characters


def post(text: str, execution: str | None = None, what: str = "dual run") -> str | None:
    """Post `text`; the message ts (None if Slack is down: evidence has it all)."""
    try:
        thread = _thread(execution) if execution else None
        if thread is not None:
            blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": text[:SLACK_TEXT_LIMIT]}}]
            metadata = slack.thread_metadata(execution or "", setting(ENV_WAVE, ""), what)
            slack.post_in_thread(thread, text[:SLACK_TEXT_LIMIT], blocks, metadata)
            return thread[1]
        response = slack.web_client().chat_postMessage(channel=channel(), text=text[:3900])
    except Exception:
        return None
    return response.get("ts")


def _thread(execution: str) -> tuple[str, str] | None:
    table_name = setting(ENV_APPROVALS_TABLE, "")
    if not table_name:
        return None
    from tasks.approvals.store import ApprovalStore
    from tasks.common.aws import own_session

    table: Any = own_session().resource("dynamodb").Table(table_name)
    return ApprovalStore(table).thread_of(execution)
