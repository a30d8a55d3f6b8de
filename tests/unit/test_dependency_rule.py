"""The dependency rule (`tasks.frame.dependencies`): which executions of a wave unlock the waves after it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tasks.frame.dependencies import ExecutionFacts, judge, passed_a_gate

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def run(status: str, *, dry: bool = False, gate: bool = False) -> tuple[str, bool, bool]:
    return status, dry, gate


SUCCESS = run("SUCCEEDED", gate=True)
DRY_SUCCESS = run("SUCCEEDED", dry=True)
REFUSED = run("FAILED")  # guard refused it (input, freeze, dependency) or its preflight failed
REJECTED_AT_FIRST_GATE = run("FAILED")  # the first gate's task failed: nothing was approved
FAILED_AFTER_GATE = run("FAILED", gate=True)
RUNNING_AT_FIRST_GATE = run("RUNNING")
RUNNING_PAST_GATE = run("RUNNING", gate=True)


def history(*runs: tuple[str, bool, bool]) -> list[ExecutionFacts]:
    """Executions oldest first in the table; the rule reads them newest first."""
    facts = [
        ExecutionFacts(f"run-{i}", status, T0 + timedelta(hours=i), dry, gate)
        for i, (status, dry, gate) in enumerate(runs)
    ]
    return list(reversed(facts))


@pytest.mark.parametrize(
    ("executions", "met", "reason"),
    [
        ((), False, "wave 'orders-db' has never run; run it first"),
        (
            (DRY_SUCCESS,),
            False,
            "wave 'orders-db' has only dry runs; a dry run never counts, run it for real",
        ),
        ((SUCCESS,), True, "wave 'orders-db' execution run-0 SUCCEEDED"),
        ((SUCCESS, DRY_SUCCESS), True, "wave 'orders-db' execution run-0 SUCCEEDED"),
        ((SUCCESS, REFUSED), True, "wave 'orders-db' execution run-0 SUCCEEDED"),
        ((SUCCESS, REJECTED_AT_FIRST_GATE, REFUSED), True, "wave 'orders-db' execution run-0 SUCCEEDED"),
        ((SUCCESS, RUNNING_AT_FIRST_GATE), True, "wave 'orders-db' execution run-0 SUCCEEDED"),
        (
            (SUCCESS, FAILED_AFTER_GATE),
            False,
            "wave 'orders-db' latest real execution run-1 is FAILED, not SUCCEEDED",
        ),
        (
            (SUCCESS, FAILED_AFTER_GATE, REFUSED),
            False,
            "wave 'orders-db' latest real execution run-1 is FAILED, not SUCCEEDED",
        ),
        (
            (SUCCESS, RUNNING_PAST_GATE),
            False,
            "wave 'orders-db' execution run-1 is still RUNNING past its first approval",
        ),
        ((FAILED_AFTER_GATE, SUCCESS), True, "wave 'orders-db' execution run-1 SUCCEEDED"),
        (
            (REFUSED, REJECTED_AT_FIRST_GATE),
            False,
            "wave 'orders-db' has no real execution that got past its first approval; run it first",
        ),
        (
            (run("ABORTED", gate=True),),
            False,
            "wave 'orders-db' latest real execution run-0 is ABORTED, not SUCCEEDED",
        ),
    ],
    ids=[
        "never-run",
        "dry-run-only",
        "success",
        "dry-run-after-success",
        "refused-after-success",
        "rejected-at-first-gate-after-success",
        "running-at-first-gate-after-success",
        "failed-real-after-success",
        "refused-after-failed-real",
        "running-past-gate-after-success",
        "success-after-failure",
        "refused-and-rejected-only",
        "aborted-after-gate",
    ],
)
def test_dependency_rule_over_execution_histories(executions, met, reason):
    # Given a dependency's executions (oldest first in the table)
    # When the rule judges them
    verdict = judge("orders-db", history(*executions))

    # Then it is met or not, with a reason naming the execution that decided
    assert (verdict.met, verdict.reason) == (met, reason)


def _event(event_id: int, kind: str, previous: int = 0, **details) -> dict:
    return {"id": event_id, "type": kind, "previousEventId": previous, **details}


def test_dependency_rule_sees_an_approved_gate_in_the_history():
    # Given a history where a Lambda task succeeded, then a waitForTaskToken gate succeeded
    lambda_task = {"resource": "invoke", "resourceType": "lambda"}
    gate_task = {"resource": "invoke.waitForTaskToken", "resourceType": "lambda"}
    events = [
        _event(1, "TaskScheduled", 0, taskScheduledEventDetails=lambda_task),
        _event(2, "TaskStarted", 1),
        _event(3, "TaskSucceeded", 2),
        _event(4, "TaskScheduled", 3, taskScheduledEventDetails=gate_task),
        _event(5, "TaskStarted", 4),
        _event(6, "TaskSubmitted", 5),
    ]

    # When the gate has not answered yet, and then when it has
    before = passed_a_gate(events)
    after = passed_a_gate([*events, _event(7, "TaskSucceeded", 6)])

    # Then only the answered gate counts as passed
    assert (before, after) == (False, True)
