"""Operating a program as a user types it: `start` refusing early, `status` review, `approvals` at
80 columns, one-line AWS errors, and `local up` manners (quiet log, generated names, AWS-shaped APIs)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.cli.test_local_cli import _free_port, wavectl
from tests.conftest import ROOT

ALIAS = "arn:aws:states:eu-west-1:111111111111:stateMachine:acme-to-globex-{wave}:live"


@pytest.mark.parametrize(
    "command",
    [
        ["status"],
        ["status", "orders-db"],
        ["approvals"],
        ["start", "orders-db", "--ticket", "CHG-1"],
        ["evidence", "orders-db", "--out", "evidence-out"],
    ],
    ids=["status", "status-wave", "approvals", "start", "evidence"],
)
def test_cli_without_credentials_prints_one_line_and_exits_1(command: list[str], tmp_path: Path):
    # Given an empty environment: no AWS credentials, no profile, no metadata service
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "PYTHONPATH": str(ROOT),
           "AWS_EC2_METADATA_DISABLED": "true", "COLUMNS": "80"}  # fmt: skip

    # When a command that reads AWS runs
    result = subprocess.run(
        [sys.executable, "-m", "wavectl", *command], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip

    # Then one line says what failed and what to do, with exit code 1 and no traceback
    assert result.returncode == 1, result.stdout + result.stderr
    progress = [line for line in result.stderr.splitlines() if line.endswith("…")]  # "reading …"
    lines = [line for line in result.stderr.splitlines() if line.strip() and line not in progress]
    assert len(lines) == 1 and len(progress) <= 1, result.stderr
    assert "no AWS credentials" in lines[0] and "--local" in lines[0]
    assert "Traceback" not in result.stderr + result.stdout


def test_cli_debug_shows_the_traceback(tmp_path: Path):
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "PYTHONPATH": str(ROOT),
           "AWS_EC2_METADATA_DISABLED": "true"}  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-m", "wavectl", "status", "--debug"], cwd=ROOT, env=env, capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "NoCredentialsError" in result.stderr


def test_start_refuses_bad_input_before_touching_aws():
    result = wavectl("start", "orders-db", "--input", '{"dryrun": true}')
    assert result.returncode == 2
    assert "refused, nothing started: Wavectl.InvalidInput: unknown input field 'dryrun'" in result.stderr


# ----------------------------------------------------------------------------- on `wavectl local up`


@pytest.fixture(scope="module")
def served(cloud_assembly, tmp_path_factory):
    """`wavectl local up` (nobody answers gates): its port and the file its output goes to."""
    port, log = _free_port(), tmp_path_factory.mktemp("local-up") / "output.txt"
    env = {**os.environ, "TZ": "UTC", "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
    args = ["local", "up", "--port", str(port), "--assembly", str(cloud_assembly)]
    with log.open("w") as sink:
        server = subprocess.Popen(
            [sys.executable, "-m", "wavectl", *args], cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 300  # the assembly is current: deploying takes ~10-40 s on 2 busy cores
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        yield {"port": str(port), "log": log}
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()


def _sfn(port: str):
    return boto3.client(
        "stepfunctions", region_name="eu-west-1", endpoint_url=f"http://127.0.0.1:{port}",
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )  # fmt: skip


def _ended(sfn, arn: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.3)
    raise AssertionError(f"{arn} still running")


def _arn_of(started: subprocess.CompletedProcess) -> str:
    match = re.search(r"(arn:aws:states:\S+)", started.stdout)
    assert match, started.stdout + started.stderr
    return match.group(1)


def test_dry_run_of_orders_db_leaves_api_dns_refused(served):
    # Given a dry run of orders-db that ended SUCCEEDED on `local up`
    port, sfn = served["port"], _sfn(served["port"])
    dry = wavectl("start", "orders-db", "--dry-run", "--local", "--port", port, "--ticket", "CHG-7")
    assert dry.returncode == 0, dry.stderr
    assert _ended(sfn, _arn_of(dry))["status"] == "SUCCEEDED"

    # When api-dns is started with wavectl, and twice from the AWS CLI without --name on the alias
    refused = wavectl("start", "api-dns", "--local", "--port", port)
    unnamed = [sfn.start_execution(stateMachineArn=ALIAS.format(wave="api-dns"), input="{}") for _ in "ab"]
    ended = [_ended(sfn, started["executionArn"]) for started in unnamed]
    history = wavectl("status", "api-dns", "--local", "--port", port, "--format", "json")

    # Then wavectl refuses early and starts nothing; both unnamed starts ran (generated names) and the
    # guard refused each with Wavectl.DependencyNotMet; status lists both
    assert refused.returncode == 1
    assert "refused, nothing started: Wavectl.DependencyNotMet: wave 'orders-db' has only dry runs" in (
        refused.stderr
    )
    names = [e["name"] for e in ended]
    assert len(set(names)) == 2 and all(re.fullmatch(r"[0-9a-f-]{36}", n) for n in names), names
    assert [e["status"] for e in ended] == ["FAILED", "FAILED"]
    assert all(e["error"] == "Wavectl.DependencyNotMet" for e in ended)
    listed = json.loads(history.stdout)
    assert {e["name"] for e in listed["executions"]} == set(names)
    assert listed["dependencies"] == [
        {"wave": "orders-db", "met": False,
         "reason": "wave 'orders-db' has only dry runs; a dry run never counts, run it for real"}
    ]  # fmt: skip


def test_status_of_a_wave_marks_dry_runs_and_steps_have_durations(served):
    port = served["port"]
    # Given the dry run of orders-db above (or one started now)
    sfn = _sfn(port)
    if not sfn.list_executions(stateMachineArn=ALIAS.format(wave="orders-db")[: -len(":live")])["executions"]:
        _ended(sfn, _arn_of(wavectl("start", "orders-db", "--dry-run", "--local", "--port", port)))

    # When its history and one execution's steps are read at 80 columns
    env_cols = {"COLUMNS": "80"}
    table = _wavectl_env(env_cols, "status", "orders-db", "--local", "--port", port)
    name = json.loads(wavectl("status", "orders-db", "--local", "--port", port, "--format", "json").stdout)[
        "executions"
    ][-1]["name"]
    steps = _wavectl_env(env_cols, "status", "orders-db", "--local", "--port", port, "--execution", name)

    # Then the dry run is marked, and each step has its times; nothing is wider than 80 columns
    assert table.returncode == 0, table.stderr
    assert "SUCCEEDED (dry run)" in table.stdout and name in table.stdout
    assert "Check request" in steps.stdout and "Dry run: nothing changed" in steps.stdout
    assert all(len(line) <= 80 for line in table.stdout.splitlines() + steps.stdout.splitlines())


def _wavectl_env(extra: dict, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "TZ": "UTC", **extra}
    return subprocess.run(
        [sys.executable, "-m", "wavectl", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def test_approvals_at_80_columns_print_every_id_whole(served):
    # Given orders-db started for real by alice and waiting at its first gate
    port = served["port"]
    started = wavectl("start", "orders-db", "--local", "--port", port, "--requested-by", "U01ALICE")
    assert started.returncode == 0, started.stderr
    deadline, pending = time.monotonic() + 60, []
    while not pending and time.monotonic() < deadline:
        pending = json.loads(wavectl("approvals", "--local", "--port", port, "--json").stdout)
        time.sleep(0.5)
    assert pending, "no approval became pending"

    # When the approvals are listed in an 80-column terminal
    listed = _wavectl_env({"COLUMNS": "80"}, "approvals", "--local", "--port", port)

    # Then every apr_ id is whole on one line, the requester is shown by name, and nothing wraps
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    for item in pending:
        assert any(item["approval_id"] in line for line in lines), listed.stdout
    # the requester is who CloudTrail says started it (issue 15), by runbook name where the runbook knows them
    requester = pending[0]["requester"]
    shown = {"U01ALICE": "alice"}.get(requester, requester)
    assert shown[:20] in listed.stdout.replace("\n", ""), listed.stdout
    assert all(len(line) <= 80 for line in lines), listed.stdout


def test_local_up_answers_aws_shaped_apis(served):
    sfn = _sfn(served["port"])
    machine = ALIAS.format(wave="orders-db")[: -len(":live")]
    # list-state-machine-versions works; list-executions accepts the alias and the version ARN
    versions = sfn.list_state_machine_versions(stateMachineArn=machine)["stateMachineVersions"]
    assert [v["stateMachineVersionArn"] for v in versions] == [f"{machine}:1"]
    through_alias = sfn.list_executions(stateMachineArn=f"{machine}:live")["executions"]
    through_version = sfn.list_executions(stateMachineArn=f"{machine}:1")["executions"]
    assert through_alias and {e["name"] for e in through_alias} == {e["name"] for e in through_version}
    # an operation the embedded AWS lacks answers a JSON error naming it
    with pytest.raises(ClientError) as caught:
        sfn.validate_state_machine_definition(definition='{"StartAt": "A", "States": {}}')
    assert caught.value.response["Error"]["Code"] == "UnsupportedOperation"
    assert "ValidateStateMachineDefinition" in caught.value.response["Error"]["Message"]


def test_local_up_prints_one_line_per_execution_event_and_approval(served):
    # Given the executions and approvals of the tests above, on a `local up` without -v
    time.sleep(2.5)  # the event log reads the embedded AWS about once a second
    output = served["log"].read_text()

    # Then it said when each started and ended (who, ticket, dry run) and each approval requested,
    # and printed no access log and no traceback
    assert re.search(r"orders-db \S+ started \(by \S+, ticket CHG-7, dry run\)", output), output
    assert re.search(r"orders-db \S+ SUCCEEDED after", output), output
    assert re.search(r"api-dns \S+ FAILED after .*Wavectl.DependencyNotMet", output), output
    assert re.search(r"approval apr_\S+ requested: orders-db / start-copy", output), output
    assert "HTTP/1.1" not in output and "Traceback" not in output
