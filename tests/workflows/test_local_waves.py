"""Waves executed in the embedded engine: outcomes, named errors, gates, compressed time, status.json."""

from __future__ import annotations

import json
import time

import pytest

from tests.workflows import helpers
from wavectl.local.runner import run_program, run_wave
from wavectl.status import build_status, status_html

CHANNEL = "C0MIGRATION"


def test_wave_succeeds_on_its_live_version_after_its_gate_is_answered(local_cloud):
    # Given the deployed program with nothing run yet

    # When the first wave runs (its gate answered as the platform approvers would)
    run = run_wave(local_cloud, "orders-db")

    # Then it succeeded on version 1, its approval request reached Slack, and its record is in the table
    assert run.status == "SUCCEEDED", run.error
    assert run.version_arn.endswith(":stateMachine:acme-to-globex-orders-db:1")
    assert "Check request" in run.states
    posted = [m for m in local_cloud.slack.messages(CHANNEL) if "orders-db" in json.dumps(m)]
    assert posted, "the gate posted no approval request to the local Slack"
    items = local_cloud.session.client("dynamodb").scan(TableName="acme-to-globex-approvals")["Items"]
    assert any(run.execution_arn in json.dumps(item) for item in items)


def test_wave_with_unmet_dependency_fails_with_the_guard_error(local_cloud):
    # Given api-dns depends on orders-db, which never ran

    # When api-dns runs on its own
    run = run_wave(local_cloud, "api-dns")

    # Then the execution failed with the guard's named error and its message
    assert run.status == "FAILED"
    assert run.error.name == "Wavectl.DependencyNotMet"
    assert run.error.message == "wave 'orders-db' has never run; run it first"


def test_waves_after_a_dependency_that_failed_before_its_first_gate_are_refused_by_their_guards(
    local_cloud,
):
    # Given orders-db's only real execution failed on its input, before any gate (nothing changed)
    failed = run_wave(local_cloud, "orders-db", extra_input={"ticket": "CHG-1"})
    assert (failed.status, failed.error.name) == ("FAILED", "Wavectl.InvalidInput")

    # When every wave after it starts, each through its guard's dependency rule (list the dependency's
    # executions, read each one's input and, for a real one that did not succeed, its history)
    dependent = ("api-dns", "payments-dual-run", "decommission-acme")
    runs = {wave: run_wave(local_cloud, wave) for wave in dependent}

    # Then each is refused with the guard's named error: a failed run that passed no gate counts for nothing
    assert {wave: (run.status, run.error.name) for wave, run in runs.items()} == dict.fromkeys(
        dependent, ("FAILED", "Wavectl.DependencyNotMet")
    )
    never = "has no real execution that got past its first approval; run it first"
    assert runs["api-dns"].error.message == f"wave 'orders-db' {never}"
    assert runs["payments-dual-run"].error.message == f"wave 'orders-db' {never}"
    assert runs["decommission-acme"].error.message == f"wave 'api-dns' {never}"


def test_raising_task_is_reported_failed_with_its_error_in_status_json(local_cloud, monkeypatch):
    # Given the guard task fails the way a broken task does
    from tasks.common.errors import TaskFailed
    from tasks.frame import handler

    def broken(event, context):
        raise TaskFailed("replica disk full while checking orders-db")

    monkeypatch.setattr(handler, "guard", broken)

    # When the wave runs and the status document is built
    run = run_wave(local_cloud, "orders-db")
    document = build_status(local_cloud.session, local_cloud.runbook)
    wave = next(w for w in document["waves"] if w["wave"] == "orders-db")

    # Then it is FAILED with the task's error name and message, on the run and in status.json
    assert run.status == "FAILED"
    assert (run.error.name, run.error.message) == (
        "Wavectl.TaskFailed",
        "replica disk full while checking orders-db",
    )
    assert wave["status"] == "FAILED"
    assert wave["error"]["name"] == "Wavectl.TaskFailed"
    assert wave["error"]["message"] == "replica disk full while checking orders-db"
    assert "Wavectl.TaskFailed: replica disk full" in status_html(document)


def test_wave_after_a_failed_dependency_is_not_started(local_cloud, monkeypatch):
    # Given orders-db will fail in its guard task
    from tasks.common.errors import TaskFailed
    from tasks.frame import handler

    original = handler.guard

    def fail_orders_db(event, context):
        if event["wave"]["name"] == "orders-db":
            raise TaskFailed("source unreachable")
        return original(event, context)

    monkeypatch.setattr(handler, "guard", fail_orders_db)

    # When the program runs
    runs = {r.wave: r.status for r in run_program(local_cloud)}

    # Then nothing that depends on it (directly or not) was started
    assert runs == {
        "orders-db": "FAILED",
        "api-dns": "NOT_STARTED",
        "payments-dual-run": "NOT_STARTED",
        "decommission-acme": "NOT_STARTED",
    }


@pytest.mark.parametrize("speed", ["fast", "7200"])
def test_waits_and_retry_backoffs_are_compressed_and_counted_as_simulated_time(make_local_cloud, speed):
    # Given a workflow with a one-hour Wait and a task retried after 30 minutes, then 60 minutes
    cloud = make_local_cloud(speed=speed, seed_estate=False)
    role = cloud.resources.of_type("AWS::IAM::Role")[0].arn
    function = cloud.session.client("lambda").create_function(
        FunctionName="not-ready-twice", Runtime="python3.12", Role=role,
        Handler="tests.workflows.helpers.not_ready_twice", Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18},
    )["FunctionArn"]  # fmt: skip
    definition = {
        "StartAt": "Bake",
        "States": {
            "Bake": {"Type": "Wait", "Seconds": 3600, "Next": "Poll"},
            "Poll": {
                "Type": "Task", "Resource": function, "End": True,
                "Retry": [{"ErrorEquals": ["Wavectl.NotReady"], "IntervalSeconds": 1800, "BackoffRate": 2,
                           "MaxAttempts": 3}],
            },
        },
    }  # fmt: skip
    sfn = cloud.session.client("stepfunctions")
    machine = sfn.create_state_machine(name="timed", definition=json.dumps(definition), roleArn=role)
    helpers.CALLS.clear()

    # When it runs
    real_start, simulated_start = cloud.clock.real_elapsed(), cloud.clock.simulated_elapsed()
    execution = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], name="timed-1")[
        "executionArn"
    ]
    while sfn.describe_execution(executionArn=execution)["status"] == "RUNNING":
        time.sleep(0.02)
    real = cloud.clock.real_elapsed() - real_start
    simulated = cloud.clock.simulated_elapsed() - simulated_start

    # Then it succeeded on the third attempt, two simulated hours passed (1h + 30m + 60m) in a few seconds
    assert json.loads(sfn.describe_execution(executionArn=execution)["output"])["attempts"] == 3
    assert simulated >= 2 * 3600
    assert real < 5
