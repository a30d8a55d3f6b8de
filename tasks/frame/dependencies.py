"""The dependency rule, written once: when has a wave run for real, so that the waves after it may start?

A wave's dependency is met when its latest *counting* execution has `SUCCEEDED`. An execution counts
when it is real (not `dry_run`) and it may have changed something: it got past an approval gate (its
first gate approved), or it succeeded. So:

- dry runs never count (they stop before any gate);
- an execution refused by its input, a freeze window, a dependency or its preflight, or rejected at its
  first gate, changed nothing and does not undo an earlier success;
- a real execution that got past its first gate and then failed (or was aborted or timed out) undoes an
  earlier success, and one still running after its first gate is not a success yet.

Pure logic: the facts are read through any object with the three Step Functions read calls
(`list_executions`, `describe_execution`, `get_execution_history`) that the caller passes in, so the
guard Lambda and `wavectl start` judge with the same code.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

GATE_RESOURCE_SUFFIX = ".waitForTaskToken"
_LIST_PAGE = 100


class ExecutionReader(Protocol):
    def list_executions(self, **kwargs: Any) -> dict[str, Any]: ...

    def describe_execution(self, **kwargs: Any) -> dict[str, Any]: ...

    def get_execution_history(self, **kwargs: Any) -> dict[str, Any]: ...


@dataclass(frozen=True)
class ExecutionFacts:
    """What the rule needs to know about one execution of a dependency."""

    name: str
    status: str  # RUNNING | SUCCEEDED | FAILED | TIMED_OUT | ABORTED | PENDING_REDRIVE
    started: datetime
    dry_run: bool
    passed_gate: bool  # an approval gate of this execution was approved

    @property
    def counts(self) -> bool:
        return not self.dry_run and (self.passed_gate or self.status == "SUCCEEDED")


@dataclass(frozen=True)
class Verdict:
    wave: str
    met: bool
    reason: str  # why it is (not) met, one sentence naming the execution
    execution: str | None = None  # the execution that decided


def judge(wave: str, newest_first: Iterable[ExecutionFacts]) -> Verdict:
    """The rule over a dependency's executions, newest first (the iterable is read only as far as needed)."""
    seen = dry_runs = 0
    for facts in newest_first:
        seen += 1
        dry_runs += facts.dry_run
        if not facts.counts:
            continue
        if facts.status == "SUCCEEDED":
            return Verdict(wave, True, f"wave '{wave}' execution {facts.name} SUCCEEDED", facts.name)
        if facts.status == "RUNNING":
            reason = f"wave '{wave}' execution {facts.name} is still RUNNING past its first approval"
        else:
            reason = f"wave '{wave}' latest real execution {facts.name} is {facts.status}, not SUCCEEDED"
        return Verdict(wave, False, reason, facts.name)
    if seen == 0:
        return Verdict(wave, False, f"wave '{wave}' has never run; run it first")
    if dry_runs == seen:
        return Verdict(
            wave, False, f"wave '{wave}' has only dry runs; a dry run never counts, run it for real"
        )
    return Verdict(
        wave,
        False,
        f"wave '{wave}' has no real execution that got past its first approval; run it first",
    )


def passed_a_gate(events: list[dict[str, Any]]) -> bool:
    """True when a `waitForTaskToken` task of the history succeeded (an approval gate was approved)."""
    by_id = {event["id"]: event for event in events}
    for event in events:
        if event.get("type") != "TaskSucceeded":
            continue
        scheduled = _scheduled_for(event, by_id)
        if scheduled and scheduled["taskScheduledEventDetails"].get("resource", "").endswith(
            GATE_RESOURCE_SUFFIX
        ):
            return True
    return False


def _scheduled_for(event: dict[str, Any], by_id: dict[int, dict[str, Any]]) -> dict[str, Any] | None:
    for _ in range(10):  # TaskSucceeded <- TaskSubmitted <- TaskStarted <- TaskScheduled
        event = by_id.get(event.get("previousEventId", 0))
        if event is None:
            return None
        if event.get("type") == "TaskScheduled":
            return event
    return None


def is_dry_run(execution_input: str | None) -> bool:
    try:
        parsed = json.loads(execution_input or "{}")
    except ValueError:
        return False
    return isinstance(parsed, dict) and parsed.get("dry_run") is True


def executions_newest_first(sfn: ExecutionReader, state_machine_arn: str) -> Iterator[dict[str, Any]]:
    """The list_executions entries of a state machine, newest first; none if it does not exist."""
    kwargs: dict[str, Any] = {"stateMachineArn": state_machine_arn, "maxResults": _LIST_PAGE}
    listed: list[dict[str, Any]] = []
    while True:
        try:
            page = sfn.list_executions(**kwargs)
        except Exception as exc:  # a dependency that was never deployed has no executions either
            if "StateMachineDoesNotExist" in type(exc).__name__ or "does not exist" in str(exc).lower():
                return
            raise
        listed += page.get("executions", [])
        if not page.get("nextToken"):
            break
        kwargs["nextToken"] = page["nextToken"]
    yield from sorted(listed, key=lambda e: e["startDate"], reverse=True)


def read_facts(sfn: ExecutionReader, state_machine_arn: str) -> Iterator[ExecutionFacts]:
    """Facts of each execution, newest first, read lazily (a description and maybe a history each)."""
    for listed in executions_newest_first(sfn, state_machine_arn):
        arn = listed["executionArn"]
        described = sfn.describe_execution(executionArn=arn)
        dry_run = is_dry_run(described.get("input"))
        status = described["status"]
        passed = False
        if not dry_run and status != "SUCCEEDED":
            passed = passed_a_gate(_history(sfn, arn))
        yield ExecutionFacts(
            name=listed.get("name") or arn.rsplit(":", 1)[-1],
            status=status,
            started=listed["startDate"],
            dry_run=dry_run,
            passed_gate=passed,
        )


def _history(sfn: ExecutionReader, execution_arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
    while True:
        page = sfn.get_execution_history(**kwargs)
        events += page.get("events", [])
        if not page.get("nextToken"):
            return events
        kwargs["nextToken"] = page["nextToken"]


def check(sfn: ExecutionReader, wave: str, state_machine_arn: str) -> Verdict:
    """The verdict for one dependency, read from Step Functions through `sfn`."""
    return judge(wave, read_facts(sfn, state_machine_arn))
