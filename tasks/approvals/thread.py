"""One Slack thread per execution: its "started" message is the root; each gate, each main step finished
and the end (tasks/evidence_archive/announce.py) reply in it.

The frame posts the notes through the approval request function (`action: started | step`), which
already holds the Slack token and the approvals table, so no wave function gets either. A note never
fails the execution: anything that goes wrong is logged and the wave goes on (`posted: false`).
Messages are sentences and Block Kit fields; nothing here carries a task token.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tasks.approvals import slack
from tasks.approvals.config import Member
from tasks.approvals.decisions import Services
from tasks.approvals.store import ApprovalStore
from tasks.common.logging import logger
from tasks.contracts import ACTION_STARTED, ACTION_STEP

STARTED, STEP = "started", "step"


def _member(identity: str | None, groups: dict[str, list[Member]]) -> Member | None:
    if not identity:
        return None
    for members in groups.values():
        for member in members:
            if identity in (member.slack, member.name, *member.iam):
                return member
    return None


def _person(member: Member) -> str:
    return f"*{member.name or member.slack}* (<@{member.slack}>)"


def started_by(request: dict[str, Any], groups: dict[str, list[Member]]) -> str:
    """Who started the execution, by runbook name where the runbook knows them, and how it is known."""
    resolved = request.get("requester") or {}
    if resolved.get("verified"):
        arn = str((resolved.get("principal") or {}).get("arn") or "")
        member = _member(arn, groups)
        if member is not None:
            return f"{_person(member)}, verified by CloudTrail"
        return f"`{arn}`, verified by CloudTrail (not a person in the runbook)"
    typed = request.get("requested_by")
    member = _member(typed, groups)
    named = _person(member) if member is not None else (f"`{typed}`" if typed else "nobody named")
    if resolved.get("source") == "dry_run":
        return f"{named}, as the input says (a dry run is not looked up in CloudTrail)"
    return f"{named}, as the input says (not verified)"


def _when(value: Any) -> str:
    text = str(value or "")
    return f"{text[:19].replace('T', ' ')} UTC" if len(text) >= 19 else text


def _machine_version(sfn: Any, execution: str) -> str | None:
    """The state machine version the execution runs (`1` of `...:orders-db:1`), if it ran on one."""
    try:
        version_arn = sfn.describe_execution(executionArn=execution).get("stateMachineVersionArn")
    except Exception as exc:  # the note goes out without it
        logger().info("execution version unavailable", extra={"error": type(exc).__name__})
        return None
    return str(version_arn).rsplit(":", 1)[-1] if version_arn else None


def started_blocks(
    event: dict[str, Any], groups: dict[str, list[Member]], machine_version: str | None
) -> tuple[str, list[dict[str, Any]]]:
    """(fallback text, blocks) of the message that roots the thread."""
    wave, request = event["wave"], event.get("request") or {}
    dry_run = bool(request.get("dry_run"))
    what = "dry run" if dry_run else "execution"
    name = str(event["execution"]).rsplit(":", 1)[-1]
    version = f"v{wave['version']}"
    if machine_version:
        version += f" · state machine version {machine_version}"
    mode = "dry run: read-only checks, nothing is changed" if dry_run else "real run: changes the estate"
    headline = (
        f":arrow_forward: *{wave['name']}* ({wave.get('kind', '')}) {what} started. "
        "This thread follows it: each approval, each main step finished, and the end."
    )
    fields = [
        {"type": "mrkdwn", "text": f"*Started by*\n{started_by(request, groups)}"},
        {"type": "mrkdwn", "text": f"*Version*\n{version}"},
        {"type": "mrkdwn", "text": f"*Ticket*\n{request.get('change_ticket') or 'none given'}"},
        {"type": "mrkdwn", "text": f"*Mode*\n{mode}"},
    ]
    header = f"{wave['name']} v{wave['version']} · {what} started"
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": header[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": headline}},
        {"type": "section", "fields": fields},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"Execution `{name}` · started "
                                                                    f"{_when(event.get('started_at'))}"}]},
    ]  # fmt: skip
    return f"{wave['name']} v{wave['version']} {what} started ({name})", blocks


def step_blocks(event: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """(fallback text, blocks) of a main step finished."""
    wave, step = event["wave"]["name"], str(event["step"])
    detail = f": {event['detail']}" if event.get("detail") else ""
    text = f":white_check_mark: *{wave}* · {step}{detail}"
    when = f"Step finished {_when(event.get('at'))}"
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": when}]},
    ]
    return f"{wave}: {step} finished", blocks


def _post_started(event: dict[str, Any], services: Services, now: datetime) -> bool:
    store, execution, wave = services.store, str(event["execution"]), event["wave"]["name"]
    if not store.claim_thread(execution, now):
        return False  # a retried note: the thread has its root already
    text, blocks = started_blocks(event, services.groups, _machine_version(services.sfn, execution))
    try:
        channel, ts = slack.post_root(text, blocks, slack.thread_metadata(execution, wave, STARTED))
    except Exception:
        store.release_thread(execution)  # the first gate (or next note) starts the thread instead
        raise
    store.set_thread(execution, channel, ts)
    return True


def post_note(
    store: ApprovalStore,
    execution: str,
    wave: str,
    what: str,
    message: tuple[str, list[dict[str, Any]]],
    now: datetime,
) -> bool:
    """Reply in the execution's thread; start the thread with this note when it has none yet."""
    text, blocks = message
    metadata = slack.thread_metadata(execution, wave, what)
    thread = store.thread_of(execution)
    if thread is None and store.claim_thread(execution, now):
        try:
            channel, ts = slack.post_root(text, blocks, metadata)
        except Exception:
            store.release_thread(execution)
            raise
        store.set_thread(execution, channel, ts)
        return True
    thread = thread or store.thread_of(execution)
    if thread is None:
        return False  # another note is posting the root right now; this one is skipped
    slack.post_in_thread(thread, text, blocks, metadata)
    return True


def announce(event: dict[str, Any], services: Services, now: datetime) -> dict[str, Any]:
    """The request function's `started` and `step` actions; never raises (a note never stops a wave)."""
    try:
        if event.get("action") == ACTION_STARTED:
            posted = _post_started(event, services, now)
        elif event.get("action") == ACTION_STEP:
            what = f"{STEP} {event['step']}"
            message = step_blocks(event)
            execution, wave = str(event["execution"]), event["wave"]["name"]
            posted = post_note(services.store, execution, wave, what, message, now)
        else:
            raise ValueError(f"unknown note action {event.get('action')!r}")
    except Exception as exc:  # Slack or the table unreachable, or a bug: logged by its class, never its text
        logger().warning(
            "could not post to the execution's Slack thread",
            extra={"execution": event.get("execution"), "error": type(exc).__name__},
        )
        return {"posted": False}
    return {"posted": posted}
