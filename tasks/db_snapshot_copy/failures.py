"""The error a failed wave ends with, and the Slack post of a compensation or cleanup that failed."""

from __future__ import annotations

import json
from typing import Any

from tasks.common.logging import logger
from tasks.common.naming import Run
from tasks.contracts import ErrorName

WRAPPED = "States.TaskFailed"  # how a failed child execution reaches the parent's Catch


def original_error(
    error: dict[str, Any], children: dict[str, dict[str, Any]] | None = None
) -> tuple[str, str]:
    """(error name, cause) of what failed the wave.

    A database's own workflow failing reaches the parent as `States.*` (`States.TaskFailed`) whose
    cause is the child's DescribeExecution output (JSON) — or, where that is lost, the failed child
    execution compensation looked up says it: its error is the named error the database raised.
    """
    name = str(error.get("Error") or ErrorName.TASK_FAILED.value)
    cause = str(error.get("Cause") or name)
    if not name.startswith("States."):
        return name, cause
    failed = [
        (db, c)
        for db, c in sorted((children or {}).items())
        if c.get("status") == "FAILED" and c.get("error")
    ]
    if failed:
        database, child = failed[0]
        return str(child["error"]), _message_of(str(child.get("cause") or child["error"]))
    try:
        described = json.loads(cause)
    except ValueError:
        return name, cause
    if not isinstance(described, dict):
        return name, cause
    inner = described.get("error") or described.get("Error")
    if not inner:
        return name, cause
    inner_cause = str(described.get("cause") or described.get("Cause") or inner)
    return str(inner), _message_of(inner_cause)


def _message_of(cause: str) -> str:
    """A Lambda error's cause is its JSON error document: keep the message."""
    try:
        document = json.loads(cause)
    except ValueError:
        return cause
    if isinstance(document, dict) and document.get("errorMessage"):
        return str(document["errorMessage"])
    return cause


def final_cause(cause: str, report: dict[str, Any], rounds: int, status: str) -> str:
    if status != "incomplete":
        return cause
    still = (
        report["pending"]
        + [f"{what} (still deleting)" for what in report.get("deleting", [])]
        + report["left"]
    )
    return (
        f"{cause} | compensation incomplete after {rounds} round(s), still left in the accounts "
        f"(delete by hand): {'; '.join(still)}"
    )


def post(run: Run, event: dict[str, Any], evidence_key: str) -> dict[str, Any]:
    """Tell the wave's channel; a Slack failure is reported in the result, the evidence is written."""
    from slack_sdk.errors import SlackApiError

    from tasks.approvals.slack import web_client
    from tasks.common.settings import setting
    from tasks.contracts import ENV_SLACK_CHANNEL

    text = message_text(run, event, evidence_key)
    try:
        response = web_client().chat_postMessage(
            channel=setting(ENV_SLACK_CHANNEL),
            text=text,
            blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
        )
    except (SlackApiError, OSError) as error:
        logger().error("slack post failed", extra={"error": str(error)})
        return {"posted": False, "error": str(error)}
    return {"posted": True, "ts": response.get("ts")}


def message_text(run: Run, event: dict[str, Any], evidence_key: str) -> str:
    what = "Compensation failed" if event["outcome"] == "compensation-failed" else "Cleanup failed"
    compensation = event.get("compensation") or {}
    cause = compensation.get("cause") or (event.get("error") or {}).get("Cause") or "no cause given"
    return (
        f":rotating_light: *{what}* in wave {run.wave}, execution {run.execution}.\n"
        f"{cause}\nSomeone must delete what is left by hand (resources tagged "
        f"wavectl:execution={run.execution}). Evidence: {evidence_key}"
    )
