"""`wavectl start`: the checks the frame's guard makes, made before anything is started.

The guard stays the authority (a console start meets it too); this module refuses early, with the same
words, so that a person starting from the CLI is told at once and no execution is created for nothing.
The rules are the guard's own code (`tasks.frame.guard`, `tasks.frame.dependencies`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3

from tasks.common.errors import WavectlError
from tasks.contracts import ErrorName
from tasks.frame import dependencies
from tasks.frame.guard import check_freeze, validate_input
from wavectl.runbook import Runbook


@dataclass(frozen=True)
class Refusal:
    error: str  # a Wavectl.* name, or Wavectl.AlreadyRunning
    message: str

    def __str__(self) -> str:
        return f"{self.error}: {self.message}"


ALREADY_RUNNING = "Wavectl.AlreadyRunning"


def start_input(
    requested_by: str, raw_input: str | None, ticket: str | None, dry_run: bool
) -> dict[str, Any] | Refusal:
    """The execution input: `--input` JSON, then the options on top; refused as the guard would."""
    try:
        given = json.loads(raw_input) if raw_input else {}
    except ValueError as exc:
        return Refusal(ErrorName.INVALID_INPUT.value, f"--input is not JSON: {exc}")
    if not isinstance(given, dict):
        return Refusal(ErrorName.INVALID_INPUT.value, "--input must be a JSON object")
    document = {"requested_by": requested_by, **given}
    if ticket:
        document["change_ticket"] = ticket
    if dry_run:
        document["dry_run"] = True
    try:
        validate_input(document)
    except WavectlError as exc:
        return Refusal(exc.error_name.value, str(exc))
    return document


def refusal(
    session: boto3.Session, runbook: Runbook, wave: str, *, now: datetime | None = None
) -> Refusal | None:
    """Why `wave` may not start now (already running, freeze window, unmet dependency), or None."""
    sfn = session.client("stepfunctions")
    region = session.region_name
    running = _running(sfn, runbook.state_machine_arn(wave, region))
    if running:
        return Refusal(
            ALREADY_RUNNING,
            f"wave '{wave}' already has a running execution {running['name']} "
            f"(started {_iso(running['startDate'])}); wait for it to end or stop it",
        )
    windows = [
        {"name": f.name, "start": f.start.isoformat(), "end": f.end.isoformat()}
        for f in runbook.program.freeze
    ]
    try:
        check_freeze(_iso(now or datetime.now(UTC)), windows)
    except WavectlError as exc:
        return Refusal(exc.error_name.value, str(exc))
    for dep in runbook.wave(wave).depends_on:
        verdict = dependencies.check(sfn, dep, runbook.state_machine_arn(dep, region))
        if not verdict.met:
            return Refusal(ErrorName.DEPENDENCY_NOT_MET.value, verdict.reason)
    return None


def _running(sfn: Any, state_machine_arn: str) -> dict[str, Any] | None:
    try:
        page = sfn.list_executions(stateMachineArn=state_machine_arn, statusFilter="RUNNING", maxResults=1)
    except sfn.exceptions.StateMachineDoesNotExist:
        return None
    return next(iter(page.get("executions", [])), None)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
