"""The end of an execution, as the last reply in its Slack thread (Block Kit fields, no JSON)."""

from __future__ import annotations

from typing import Any

_ICONS = {
    "SUCCEEDED": ":checkered_flag:",
    "FAILED": ":x:",
    "TIMED_OUT": ":hourglass:",
    "ABORTED": ":octagonal_sign:",
}


def _took(index: dict[str, Any]) -> str:
    from datetime import datetime

    try:
        start = datetime.fromisoformat(str(index["started_at"]).replace("Z", "+00:00"))
        stop = datetime.fromisoformat(str(index["stopped_at"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return "?"
    seconds = int((stop - start).total_seconds())
    return (
        f"{seconds // 3600}h {seconds % 3600 // 60}m"
        if seconds >= 3600
        else f"{seconds // 60}m {seconds % 60}s"
    )


def end_blocks(index: dict[str, Any], error: str | None, bucket: str) -> tuple[str, list[dict[str, Any]]]:
    """(fallback text, blocks) of the end message."""
    status = index["status"]
    headline = (
        f"{_ICONS.get(status, ':grey_question:')} *{index['wave']}* execution `{index['execution_name']}` "
        f"ended *{status}* after {_took(index)}"
    )
    version = (index.get("definition") or {}).get("description") or "unversioned"
    fields = [
        {"type": "mrkdwn", "text": f"*Outcome*\n{status}"},
        {"type": "mrkdwn", "text": f"*Definition*\n{version.split(' sha256:')[0]}"},
        {"type": "mrkdwn", "text": f"*Evidence*\n{len(index['files'])} files, write-once until "
                                   f"{str(index.get('retain_until', ''))[:10]}"},
        {"type": "mrkdwn", "text": f"*Fetch it*\n`wavectl evidence {index['wave']} --execution "
                                   f"{index['execution_name']} --out DIR`"},
    ]  # fmt: skip
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": headline}},
        {"type": "section", "fields": fields},
    ]
    if error:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"*Error*\n{error[:2900]}"}})
    blocks.append(
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"s3://{bucket}/archive/{index['wave']}/"
                                                                    f"{index['execution_name']}/evidence.json"}]}
    )  # fmt: skip
    return f"{index['wave']} {index['execution_name']} ended {status}", blocks


def announce_end(session: Any, index: dict[str, Any], table: str, bucket: str, error: str | None) -> bool:
    """Reply in the execution's thread. An execution that has none (refused by its request check or
    its requester step, before the "started" message) gets its end as a message of its own, so every
    execution still has exactly one thread. True when it replied in a thread."""
    from tasks.approvals import slack
    from tasks.approvals.store import ApprovalStore

    thread = ApprovalStore(session.resource("dynamodb").Table(table)).thread_of(index["execution_arn"])
    text, blocks = end_blocks(index, error, bucket)
    metadata = slack.thread_metadata(index["execution_arn"], index["wave"], "end")
    if thread is None:
        slack.post_root(text, blocks, metadata)
        return False
    slack.post_in_thread(thread, text, blocks, metadata)
    return True
