"""The db-snapshot-copy workflow's ASL, one state at a time, and its size against the wave's size."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from tests.conftest import RUNBOOKS
from tests.stacks.templates import definition

STACK = "Wave-orders-db"


def asl_of(assembly: Path, stack: str = STACK) -> dict:
    """The state machine's definition with CloudFormation intrinsics replaced by a marker."""
    return definition(assembly, stack)


def all_states(asl: dict) -> dict[str, dict]:
    states = dict(asl["States"])
    for state in asl["States"].values():
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            states.update(all_states(processor))
    return states


@pytest.fixture(scope="module")
def asl(cloud_assembly) -> dict:
    return asl_of(cloud_assembly)


def test_preflight_runs_first_with_residency_and_fails_the_wave_without_compensating(asl):
    states = asl["States"]
    preflight = states["Preflight"]
    assert preflight["Parameters"]["residency"] == {"eu-personal": ["eu-west-1", "eu-central-1"]}
    assert preflight["Parameters"]["execution.$"] == "$$.Execution.Name"
    (catch,) = preflight["Catch"]
    assert states[catch["Next"]]["Type"] == "Fail" and catch["ResultPath"] == "$.error"
    # a dry run stops right after preflight; otherwise the start summary comes next
    assert preflight["Next"] == "Dry run?"
    assert states["Dry run?"]["Default"] == "Summarise start"
    assert states["Approval: start-copy"]["Parameters"]["Payload"]["summary.$"] == "$.start.text"


def test_map_takes_its_items_from_preflight_with_the_runbook_concurrency(asl):
    copies = asl["States"]["Copy each database"]
    assert copies["Type"] == "Map" and copies["ItemsPath"] == "$.preflight.databases"
    assert copies["MaxConcurrency"] == 2
    assert copies["ItemSelector"] == {"db.$": "$$.Map.Item.Value", "execution.$": "$$.Execution.Name"}
    assert copies["Catch"][0]["Next"] == "Compensate" and copies["Catch"][0]["ErrorEquals"] == ["States.ALL"]
    assert "ItemBatcher" not in copies


def test_each_long_step_waits_the_seconds_its_poll_computed(asl):
    states = all_states(asl)
    for label in ("source snapshot", "shared copy", "target copy", "restore"):
        choice = states[f"{label.capitalize()} ready?"]
        assert (
            choice["Choices"][0]["Variable"] == "$.job.ready"
            and choice["Choices"][0]["BooleanEquals"] is True
        )
        wait = states[choice["Default"]]
        assert wait == {**wait, "Type": "Wait", "SecondsPath": "$.job.wait_seconds", "Next": f"Poll {label}"}
        poll = states[f"Poll {label}"]
        assert poll["ResultPath"] == "$.job" and poll["Next"] == f"{label.capitalize()} ready?"


def test_per_database_steps_run_in_the_migration_order(asl):
    states = all_states(asl)
    order = [
        "Snapshot source", "Copy under shared key", "Share with target account", "Copy into target account",
        "Restore in target", "Verify restored database",
    ]  # fmt: skip
    follows = {
        "Snapshot source": "Source snapshot ready?",
        "Copy under shared key": "Shared copy ready?",
        "Share with target account": "Copy into target account",
        "Copy into target account": "Target copy ready?",
        "Restore in target": "Restore ready?",
    }
    for step, expected in follows.items():
        assert states[step]["Next"] == expected
    readies = ["Source snapshot ready?", "Shared copy ready?", "Target copy ready?", "Restore ready?"]
    assert [states[r]["Choices"][0]["Next"] for r in readies] == [order[1], order[2], order[4], order[5]]
    assert states["Verify restored database"]["End"] is True


def test_acceptance_gate_shows_the_verification_summary_and_compensates_on_rejection(asl):
    states = asl["States"]
    assert states["Copy each database"]["Next"] == "Summarise verification"
    gate = states["Approval: accept-restored-databases"]
    assert gate["Resource"].endswith("lambda:invoke.waitForTaskToken")
    assert gate["Parameters"]["Payload"]["summary.$"] == "$.acceptance.text"
    assert {c["Next"] for c in gate["Catch"]} <= {"Compensate", "Record timeout: accept-restored-databases"}
    assert gate["Next"] == "Clean up" and states["Clean up"]["Next"] == "Record evidence"


def test_compensation_loops_with_a_wait_until_finished_then_fails_with_the_caught_error(asl):
    states = asl["States"]
    compensate, again = states["Compensate"], states["Compensate again"]
    assert compensate["Parameters"]["error.$"] == "$.error"
    assert again["Parameters"] == {**compensate["Parameters"], "previous.$": "$.compensation"}
    # Compensate -> finished? -(in-progress)-> Wait (seconds from the task) -> Compensate again -> finished?
    finished = states[compensate["Next"]]
    assert finished["Type"] == "Choice" and again["Next"] == compensate["Next"]
    by_status = {c["StringEquals"]: c["Next"] for c in finished["Choices"]}
    wait = states[by_status["in-progress"]]
    assert wait["Type"] == "Wait" and wait["SecondsPath"] == "$.compensation.wait_seconds"
    assert wait["Next"] == "Compensate again"
    fail = states[finished["Default"]]
    assert fail == {"Type": "Fail", "ErrorPath": "$.error.Error", "CausePath": "$.error.Cause"}
    # incomplete after the bound: the caught error keeps its name, its cause says what is left
    say = states[by_status["incomplete"]]
    assert say["Parameters"] == {"Error.$": "$.error.Error", "Cause.$": "$.compensation.cause"}
    assert say["ResultPath"] == "$.error" and say["Next"] == finished["Default"]
    assert compensate["Catch"][0]["Next"] == again["Catch"][0]["Next"] == finished["Default"]


def test_definition_uses_only_lambda_invoke_and_flow_states(asl):
    states = all_states(asl)
    # a task's Resource is a function ARN (lambda:invoke returning the payload) or the callback pattern
    resources = {s["Resource"].split(":states:::")[-1] for s in states.values() if s["Type"] == "Task"}
    assert resources <= {"TOKEN", "lambda:invoke.waitForTaskToken"}
    allowed = {"Task", "Wait", "Choice", "Map", "Parallel", "Pass", "Fail", "Succeed"}
    assert {s["Type"] for s in states.values()} <= allowed
    assert "QueryLanguage" not in asl or asl["QueryLanguage"] == "JSONPath"


def _runbook_with(tmp_path: Path, count: int) -> Path:
    root = tmp_path / f"runbooks-{count}"
    shutil.copytree(RUNBOOKS, root)
    for other in (root / "waves").glob("*.yaml"):
        if other.name != "01-orders-db.yaml":
            other.unlink()
    wave_file = root / "waves" / "01-orders-db.yaml"
    wave = yaml.safe_load(wave_file.read_text())
    template = wave["databases"][0]
    wave["databases"] = [{**template, "id": f"orders-{i:02d}"} for i in range(count)]
    wave_file.write_text(yaml.safe_dump(wave))
    return root


def test_definition_size_does_not_grow_with_the_number_of_databases(tmp_path):
    # Given the wave with 1 database and the same wave with 50
    from wavectl.runbook import load_runbook
    from wavectl.synth import synthesize

    sizes = {}
    for count in (1, 50):
        # When each is synthesised
        out = tmp_path / f"out-{count}"
        synthesize(load_runbook(_runbook_with(tmp_path, count)), out, bundle=False)
        sizes[count] = len(json.dumps(asl_of(out), sort_keys=True))
    # Then their state machine definitions are exactly the same size
    assert sizes[1] == sizes[50]


def test_spec_in_the_environment_is_what_the_tasks_read(example_runbook):
    from stacks.workflows.db_snapshot_copy import spec_environment
    from tasks import contracts
    from tasks.contracts import decode_spec

    wave = example_runbook.wave("orders-db")
    encoded = spec_environment(wave)[contracts.ENV_DB_WAVE_SPEC]
    assert decode_spec(encoded)["databases"] == [db.model_dump(mode="json") for db in wave.databases]
