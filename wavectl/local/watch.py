"""What `wavectl local up` prints: one line per execution event (started, ended) and per approval
(requested, decided), read from the embedded AWS about once a second."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from wavectl import approvals
from wavectl.local.archive import deliver_execution_end
from wavectl.local.history import execution_error

POLL_SECONDS = 1.0


class EventLog:
    """Compares what runs now with what ran a second ago and reports each change as one line."""

    def __init__(self, cloud: Any, emit: Callable[[str], None]) -> None:
        self.cloud = cloud
        self.emit = emit
        self.sfn = cloud.session.client("stepfunctions")
        self.table = cloud.runbook.approvals_table_name()
        self.names = {
            m.slack: m.name or m.slack for ms in cloud.runbook.program.approvers.values() for m in ms
        }
        self.waves = {arn: wave for wave, arn in _machines(cloud).items()}
        self.statuses: dict[str, str] = {}
        self.pending: set[str] = set()

    def poll(self) -> None:
        for machine, wave in self.waves.items():
            for execution in self.sfn.list_executions(stateMachineArn=machine)["executions"]:
                self._execution(wave, execution)
        self._approvals()

    def _execution(self, wave: str, execution: dict[str, Any]) -> None:
        arn, status = execution["executionArn"], execution["status"]
        before = self.statuses.get(arn)
        if before == status:
            return
        self.statuses[arn] = status
        name = execution.get("name")
        if before is None:
            self._line(f"{wave} {name} started{self._request(arn)}")
        if status != "RUNNING":
            described = self.sfn.describe_execution(executionArn=arn)
            took = (described.get("stopDate") or datetime.now(UTC)) - described["startDate"]
            error = execution_error(described)
            detail = f": {error.name}: {error.message}" if error else ""
            self._line(f"{wave} {name} {status} after {took.total_seconds():.1f}s{detail}")
            archived = deliver_execution_end(self.cloud.session, self.cloud.runbook, arn)
            if archived and archived.get("archived"):
                self._line(f"{wave} {name} evidence archived ({archived.get('files')} files)")

    def _request(self, arn: str) -> str:
        given = json.loads(self.sfn.describe_execution(executionArn=arn).get("input") or "{}")
        who = given.get("requested_by")
        parts = [f"by {self.names.get(who, who)}" if who else "by unknown (no requested_by)"]
        if given.get("change_ticket"):
            parts.append(f"ticket {given['change_ticket']}")
        if given.get("dry_run"):
            parts.append("dry run")
        return " (" + ", ".join(parts) + ")"

    def _approvals(self) -> None:
        session = self.cloud.session
        now = {item["approval_id"]: item for item in approvals.pending(session, self.table)}
        for approval_id, item in now.items():
            if approval_id not in self.pending:
                policy = item.get("policy") or {}
                self._line(
                    f"approval {approval_id} requested: {item.get('wave')} / {item.get('gate')} "
                    f"({policy.get('required', '?')} of {policy.get('group', '?')}, "
                    f"due {item.get('expires_at')})"
                )
        for approval_id in self.pending - set(now):
            record = approvals.approval_record(session, self.table, approval_id) or {}
            voters = [self.names.get(v, v) for v in record.get("approvers") or record.get("votes") or []]
            decision = record.get("status", "closed")
            who = record.get("rejected_by") if decision == "rejected" else ", ".join(voters)
            by = f" by {self.names.get(who, who)}" if who else ""
            self._line(f"approval {approval_id} {decision}{by}: {record.get('wave')} / {record.get('gate')}")
        self.pending = set(now)

    def _line(self, text: str) -> None:
        self.emit(f"{datetime.now(UTC):%H:%M:%S} {text}")


def _machines(cloud: Any) -> dict[str, str]:
    region = cloud.region
    return {wave.wave: cloud.runbook.state_machine_arn(wave.wave, region) for wave in cloud.runbook.waves}


def watch_forever(cloud: Any, emit: Callable[[str], None], stop: threading.Event) -> None:
    """Report until `stop` is set; a failed poll is reported once and retried, never fatal."""
    log = EventLog(cloud, emit)
    failed = False
    while not stop.wait(POLL_SECONDS):
        try:
            log.poll()
            failed = False
        except Exception as exc:  # the watcher must never take the embedded AWS down
            if not failed:
                emit(f"(event log: could not read the embedded AWS: {type(exc).__name__}: {exc})")
            failed = True
