"""Which databases' own workflow executions have ended, so that compensation may clean up after them.

Each database is copied by its own execution of the per-database workflow. When the wave fails
(one database failed, an approval was rejected), its siblings may still be running: a Lambda of
theirs may be about to create a snapshot or a database. Compensation therefore cleans up a
database only once its execution has ended:

- `SUCCEEDED` / `FAILED`: its last task returned; nothing of it runs any more;
- `ABORTED` / `TIMED_OUT` (stopped from outside): a task it had started may still be running, so
  the database waits until the compensation loop has waited that task's longest timeout since it
  first saw the execution stopped (Lambda ends every invocation at its timeout);
- never started: nothing to wait for;
- `RUNNING`: pending, compensation comes back after its next wait.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from tasks.common.naming import Run
from tasks.common.settings import setting
from tasks.contracts import ENV_DB_CHILD_STATE_MACHINE, ENV_DB_CHILD_TASK_TIMEOUT
from tasks.db_snapshot_copy.naming import child_execution_name

FINISHED = {"SUCCEEDED", "FAILED"}
STOPPED = {"ABORTED", "TIMED_OUT"}
NOT_STARTED = "NOT_STARTED"


@dataclass
class Watch:
    ended: list[dict[str, Any]] = field(default_factory=list)  # databases compensation may clean up
    pending: list[str] = field(default_factory=list)  # why the others must wait
    states: dict[str, dict[str, Any]] = field(default_factory=dict)  # database id -> status, seen at


def child_execution_arn(parent_execution_arn: str, state_machine: str, name: str) -> str:
    """arn:aws:states:REGION:ACCOUNT:execution:<state machine>:<name>, next to the parent's."""
    head = parent_execution_arn.split(":")[:5]
    return ":".join([*head, "execution", state_machine, name])


def describe(sfn: Any, arn: str) -> dict[str, Any]:
    """The child execution's status (and, when it failed, its error and cause)."""
    try:
        found = sfn.describe_execution(executionArn=arn)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ExecutionDoesNotExist":
            return {"status": NOT_STARTED}
        raise
    return {key: found[key] for key in ("status", "error", "cause") if found.get(key)}


def watch(sfn: Any, event: dict[str, Any], run: Run, databases: list[dict[str, Any]],
          previous: dict[str, Any], waited: int) -> Watch:  # fmt: skip
    """Sort the databases into those whose execution has ended (and settled) and those still pending."""
    parent = event.get("execution_id") or ""
    machine = setting(ENV_DB_CHILD_STATE_MACHINE, "")
    grace = int(setting(ENV_DB_CHILD_TASK_TIMEOUT, "0") or 0)
    seen_before: dict[str, dict[str, Any]] = previous.get("children") or {}
    result = Watch()
    for db in databases:
        name = child_execution_name(run, db["id"])
        known = bool(parent and machine)
        found = (
            describe(sfn, child_execution_arn(parent, machine, name)) if known else {"status": NOT_STARTED}
        )
        status = found["status"]
        stopped_at = (
            seen_before.get(db["id"], {}).get("stopped_seen_at", waited) if status in STOPPED else None
        )
        result.states[db["id"]] = {**found, "execution": name, "stopped_seen_at": stopped_at}
        if status == "RUNNING":
            result.pending.append(f"database {db['id']}: its workflow execution {name} is still running")
        elif stopped_at is not None and waited - stopped_at < grace:
            left = grace - (waited - stopped_at)
            result.pending.append(
                f"database {db['id']}: its workflow execution {name} was {status.lower()}; waiting "
                f"{left}s more for a task it had started to end"
            )
        else:
            result.ended.append(db)
    return result
