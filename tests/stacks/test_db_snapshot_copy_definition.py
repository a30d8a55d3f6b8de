"""The db-snapshot-copy workflow's ASL, one state at a time, and its size against the wave's size."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from tests.conftest import RUNBOOKS
from tests.stacks.templates import definition, iam_statements, next_past_notes

STACK = "Wave-orders-db"


def asl_of(assembly: Path, stack: str = STACK, suffix: str = "") -> dict:
    """The state machine's definition with CloudFormation intrinsics replaced by a marker."""
    return definition(assembly, stack, suffix=suffix)


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


@pytest.fixture(scope="module")
def child_asl(cloud_assembly) -> dict:
    """The per-database workflow each database runs in (its own execution)."""
    return asl_of(cloud_assembly, suffix="-database")


def test_preflight_runs_first_with_residency_and_fails_the_wave_without_compensating(asl):
    states = asl["States"]
    preflight = states["Preflight"]
    assert preflight["Parameters"]["residency"] == {"eu-personal": ["eu-west-1", "eu-central-1"]}
    assert preflight["Parameters"]["execution.$"] == "$$.Execution.Name"
    (catch,) = preflight["Catch"]
    assert states[catch["Next"]]["Type"] == "Fail" and catch["ResultPath"] == "$.error"
    # a dry run stops right after preflight; otherwise the start summary comes next
    assert next_past_notes(states, "Preflight") == "Dry run?"
    assert states["Dry run?"]["Default"] == "Summarise start"
    assert states["Approval: start-copy"]["Parameters"]["Payload"]["summary.$"] == "$.start.text"


def test_map_reads_its_items_from_the_evidence_bucket_and_writes_its_results_there(asl):
    # a Distributed Map: neither its 500 items nor their results pass through the wave's state
    copies = asl["States"]["Copy each database"]
    assert copies["Type"] == "Map" and "ItemsPath" not in copies
    assert copies["ItemProcessor"]["ProcessorConfig"] == {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
    reader = copies["ItemReader"]
    assert reader["Resource"].endswith(":states:::s3:getObject") and reader["ReaderConfig"] == {
        "InputType": "JSON"
    }
    assert reader["Parameters"]["Key.$"] == "$.preflight.items.key"  # the list preflight wrote
    writer = copies["ResultWriter"]
    assert writer["Resource"].endswith(":states:::s3:putObject")
    assert writer["Parameters"]["Prefix"] == "waves/orders-db/map-results"
    assert reader["Parameters"]["Bucket"] == writer["Parameters"]["Bucket"]  # the evidence bucket
    assert (
        copies["MaxConcurrency"] == 16 and "ToleratedFailureCount" not in copies
    )  # the first failure fails it
    assert copies["ItemSelector"] == {"db.$": "$$.Map.Item.Value", "execution.$": "$$.Execution.Name"}
    assert copies["Catch"][0]["Next"] == "Compensate" and copies["Catch"][0]["ErrorEquals"] == ["States.ALL"]
    assert "ItemBatcher" not in copies


def test_the_wave_may_read_only_its_item_lists_and_write_only_its_map_results(cloud_assembly):
    # the state machine's S3 grants name the wave's prefix of the evidence bucket, never the bucket
    grants = {
        json.dumps(resource).split("waves/orders-db/")[1].split('"')[0]: set(actions)
        for _, actions, resource in iam_statements(cloud_assembly)
        if any(a.startswith("s3:") for a in actions) and "waves/orders-db/" in json.dumps(resource)
    }
    assert grants["*/databases.json"] == {"s3:GetObject"}
    assert grants["map-results/*"] == {
        "s3:PutObject", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload"}  # fmt: skip


def test_each_database_runs_in_its_own_child_execution_keeping_a_small_result(asl):
    # the Map's one state starts the per-database workflow's deployed version and waits for it
    (run,) = asl["States"]["Copy each database"]["ItemProcessor"]["States"].values()
    assert run["Resource"].endswith(":states:::states:startExecution.sync:2")
    assert run["Parameters"]["StateMachineArn"] == "TOKEN"  # the version's ARN (Fn::GetAtt)
    assert run["Parameters"]["Name.$"] == "$.db.child_execution"
    assert run["Parameters"]["Input"] == {"execution.$": "$.execution", "db.$": "$.db"}
    # only the small result stays in the wave's state; the full record is in the evidence bucket
    assert set(run["ResultSelector"]) == {"database.$", "status.$", "target_arn.$", "evidence_key.$",
                                          "evidence_sha256.$", "summary.$"}  # fmt: skip


def test_each_long_step_waits_the_seconds_its_poll_computed(child_asl):
    states = all_states(child_asl)
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


def test_per_database_steps_run_in_the_migration_order(child_asl):
    states = all_states(child_asl)
    assert child_asl["StartAt"] == "Snapshot source"
    follows = {
        "Snapshot source": "Source snapshot ready?",
        "Keep snapshot-time numbers": "Copy under shared key",
        "Copy under shared key": "Shared copy ready?",
        "Share with target account": "Copy into target account",
        "Copy into target account": "Target copy ready?",
        "Restore in target": "Restore ready?",
        "Verify restored database": "Record database evidence",
        "Record database evidence": "Database copied",
    }
    for step, expected in follows.items():
        assert states[step]["Next"] == expected
    readies = ["Source snapshot ready?", "Shared copy ready?", "Target copy ready?", "Restore ready?"]
    after = ["Keep snapshot-time numbers", "Share with target account", "Restore in target"]
    assert [states[r]["Choices"][0]["Next"] for r in readies] == [*after, "Verify restored database"]
    # verification compares the target with the numbers the snapshot task captured
    assert states["Keep snapshot-time numbers"]["InputPath"] == "$.job.captured"
    assert states["Verify restored database"]["Parameters"]["captured.$"] == "$.captured"
    assert states["Database copied"] == {
        **states["Database copied"],
        "Type": "Succeed",
        "OutputPath": "$.result",
    }


def test_acceptance_gate_shows_the_verification_summary_and_compensates_on_rejection(asl):
    states = asl["States"]
    assert next_past_notes(states, "Copy each database") == "Summarise the copies"
    summary = states["Summarise the copies"]
    assert summary["Parameters"]["items.$"] == "$.preflight.items" and summary["ResultPath"] == "$.acceptance"
    assert summary["Catch"][0]["Next"] == "Compensate"  # a summary that cannot be made still compensates
    gate = states["Approval: accept-restored-databases"]
    assert gate["Resource"].endswith("lambda:invoke.waitForTaskToken")
    assert gate["Parameters"]["Payload"]["summary.$"] == "$.acceptance.text"
    assert {c["Next"] for c in gate["Catch"]} <= {"Compensate", "Record timeout: accept-restored-databases"}
    assert gate["Next"] == "Clean up" and next_past_notes(states, "Clean up") == "Record evidence"


def test_compensation_loops_until_finished_then_fails_with_the_error_that_started_it(asl):
    states = asl["States"]
    compensate, again = states["Compensate"], states["Compensate again"]
    assert compensate["Parameters"]["error.$"] == "$.error"
    assert compensate["Parameters"]["execution_id.$"] == "$$.Execution.Id"  # to find its children
    assert again["Parameters"] == {**compensate["Parameters"], "previous.$": "$.compensation"}
    # Compensate -> finished? -(in-progress)-> Wait (seconds from the task) -> Compensate again -> finished?
    finished = states[compensate["Next"]]
    assert finished["Type"] == "Choice" and again["Next"] == compensate["Next"]
    by_status = {c["StringEquals"]: c["Next"] for c in finished["Choices"]}
    wait = states[by_status["in-progress"]]
    assert wait["Type"] == "Wait" and wait["SecondsPath"] == "$.compensation.wait_seconds"
    assert wait["Next"] == "Compensate again"
    # done: the error that started compensation (a database's own), then the final Fail re-raises it
    name = states[finished["Default"]]
    assert name["Parameters"] == {"Error.$": "$.compensation.error", "Cause.$": "$.compensation.cause"}
    assert states[name["Next"]] == {
        "Type": "Fail",
        "ErrorPath": "$.error.Error",
        "CausePath": "$.error.Cause",
    }


def test_a_compensation_that_fails_ends_as_compensation_failed_after_evidence_and_slack(asl):
    states = asl["States"]
    finished = states[states["Compensate"]["Next"]]
    report = states[{c["StringEquals"]: c["Next"] for c in finished["Choices"]}["incomplete"]]
    assert report["Parameters"]["outcome"] == "compensation-failed"
    failed = states[report["Next"]]
    assert failed == {**failed, "Type": "Fail", "Error": "Wavectl.CompensationFailed",
                      "CausePath": "$.compensation.cause"}  # fmt: skip
    # a crash of the compensate task goes the same way; so does a failure of the report itself
    crashed = states[states["Compensate"]["Catch"][0]["Next"]]
    assert crashed["Next"] == states[finished["Default"]].get("Next") or crashed["Next"] == report_name(
        states
    )
    assert report["Catch"][0]["Next"] == report["Next"]


def report_name(states: dict) -> str:
    return next(
        name for name, s in states.items() if s.get("Parameters", {}).get("outcome") == "compensation-failed"
    )


def test_record_evidence_and_cleanup_have_a_catch(asl):
    states = asl["States"]
    assert states["Record evidence"]["Catch"][0]["ErrorEquals"] == ["States.ALL"]
    assert states[states["Record evidence"]["Catch"][0]["Next"]]["Type"] == "Fail"
    report = states[states["Clean up"]["Catch"][0]["Next"]]
    assert report["Parameters"]["outcome"] == "cleanup-failed" and states[report["Next"]]["Type"] == "Fail"


def test_definition_uses_only_lambda_invoke_child_executions_and_flow_states(asl, child_asl):
    states = {**all_states(asl), **all_states(child_asl)}
    # a task's Resource is a function ARN (lambda:invoke returning the payload), the callback pattern,
    # or the start of a database's child execution
    resources = {s["Resource"].split(":states:::")[-1] for s in states.values() if s["Type"] == "Task"}
    assert resources <= {"TOKEN", "lambda:invoke.waitForTaskToken", "states:startExecution.sync:2"}
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
        sizes[count] = [
            len(json.dumps(asl_of(out, suffix=suffix), sort_keys=True)) for suffix in ("", "-database")
        ]
    # Then their state machine definitions (the wave's and the per-database one) are the same size
    assert sizes[1] == sizes[50]


def test_spec_in_the_environment_is_what_the_tasks_read(example_runbook):
    from stacks.workflows.db_snapshot_copy import spec_environment
    from tasks import contracts
    from tasks.contracts import decode_spec

    wave = example_runbook.wave("orders-db")
    encoded = spec_environment(wave)[contracts.ENV_DB_WAVE_SPEC]
    assert decode_spec(encoded)["databases"] == [db.model_dump(mode="json") for db in wave.databases]
