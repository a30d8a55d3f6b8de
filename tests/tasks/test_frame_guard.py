"""The common frame's guard: what a person starting a wave is told when the request is refused."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
import pytest
from moto import mock_aws

from tasks.common.errors import DependencyNotMet, Frozen, InvalidInput
from tasks.frame.guard import run_guard

DEPENDENCY = {
    "wave": "orders-db",
    "state_machine_arn": "arn:aws:states:eu-west-1:123456789012:stateMachine:p-orders-db",
}
FREEZE = [
    {"name": "month-end close", "start": "2026-11-28T18:00:00+00:00", "end": "2026-12-02T06:00:00+00:00"}
]


class FakeExecutions:
    """The Step Functions reads the guard makes, answered from a list of real runs past their gate."""

    def __init__(self, *statuses: str):
        self.executions = [
            {
                "name": f"run-{i}",
                "executionArn": f"arn:aws:states:eu-west-1:123456789012:execution:p-orders-db:run-{i}",
                "status": status,
                "startDate": datetime(2026, 11, 1 + i, tzinfo=UTC),
            }
            for i, status in enumerate(statuses)
        ]

    def list_executions(self, **_: object) -> dict:
        return {"executions": list(reversed(self.executions))}

    def describe_execution(self, executionArn: str) -> dict:
        found = next(e for e in self.executions if e["executionArn"] == executionArn)
        return {**found, "input": "{}"}

    def get_execution_history(self, **_: object) -> dict:
        gate = {"resource": "invoke.waitForTaskToken", "resourceType": "lambda"}
        return {
            "events": [
                {"id": 1, "type": "TaskScheduled", "previousEventId": 0, "taskScheduledEventDetails": gate},
                {"id": 2, "type": "TaskSucceeded", "previousEventId": 1},
            ]
        }


def event(raw_input: object = None, *, now: str = "2026-11-26T10:00:00Z", freeze=(), depends_on=()) -> dict:
    return {
        "input": {} if raw_input is None else raw_input,
        "now": now,
        "wave": {"name": "api-dns", "kind": "dns-cutover", "version": 1},
        "execution": "arn:aws:states:eu-west-1:123456789012:execution:p-api-dns:run-1",
        "freeze": list(freeze),
        "depends_on": list(depends_on),
    }


def test_empty_input_is_enough():
    result = run_guard(event({}), FakeExecutions())
    assert result["dry_run"] is False
    assert result["requested_by"] is None
    assert result["wave"]["name"] == "api-dns"


def test_known_fields_are_kept():
    raw = {"requested_by": "U01ALICE", "change_ticket": "CHG-1234", "dry_run": True}
    result = run_guard(event(raw), FakeExecutions())
    assert (result["requested_by"], result["change_ticket"], result["dry_run"]) == (
        "U01ALICE",
        "CHG-1234",
        True,
    )
    assert result["requested_by_source"] == "input"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"dryrun": True}, "unknown input field 'dryrun' (allowed: change_ticket, dry_run, requested_by)"),
        ({"dry_run": "yes"}, "input field 'dry_run' must be a non-empty bool"),
        ({"requested_by": ""}, "input field 'requested_by' must be a non-empty str"),
        ([1, 2], "execution input must be a JSON object, got list"),
    ],
)
def test_bad_input_is_refused_naming_the_field(raw: object, message: str):
    with pytest.raises(InvalidInput) as caught:
        run_guard(event(raw), FakeExecutions())
    assert str(caught.value) == message
    assert type(caught.value).__name__ == "Wavectl.InvalidInput"  # what Step Functions shows as Error


def test_inside_a_freeze_window_is_refused_naming_it():
    with pytest.raises(Frozen, match="inside freeze window 'month-end close'"):
        run_guard(event(now="2026-11-30T12:00:00Z", freeze=FREEZE), FakeExecutions())


def test_just_after_a_freeze_window_is_allowed():
    run_guard(event(now="2026-12-02T06:00:00Z", freeze=FREEZE), FakeExecutions())


def test_dependency_whose_latest_run_failed_is_not_met():
    # Given orders-db succeeded once, then failed on its latest run
    executions = FakeExecutions("SUCCEEDED", "FAILED")
    with pytest.raises(DependencyNotMet) as caught:
        run_guard(event(depends_on=[DEPENDENCY]), executions)
    assert str(caught.value) == "wave 'orders-db' latest real execution run-1 is FAILED, not SUCCEEDED"


def test_dependency_whose_latest_run_succeeded_is_met():
    run_guard(event(depends_on=[DEPENDENCY]), FakeExecutions("FAILED", "SUCCEEDED"))


@mock_aws
def test_dependency_never_deployed_or_never_run_is_not_met():
    # Given a real (embedded) Step Functions with no orders-db state machine
    sfn = boto3.client("stepfunctions", region_name="eu-west-1")
    with pytest.raises(DependencyNotMet, match="wave 'orders-db' has never run"):
        run_guard(event(depends_on=[DEPENDENCY]), sfn)
