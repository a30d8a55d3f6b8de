"""`wavectl demo | run --local | local up | start --local | status --local` as a user types them."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT


def wavectl(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200", "TZ": "UTC"}
    return subprocess.run(
        [sys.executable, "-m", "wavectl", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_demo_runs_every_wave_and_writes_status_html_and_slack(demo_run):
    # Given a current cloud assembly of the example program
    # When the demo runs (once per test run: `demo_run` in tests/conftest.py)
    out = demo_run.out

    # Then it exits 0 with a per-wave table, and every wave SUCCEEDED with its approvers in status.json
    assert demo_run.returncode == 0, demo_run.stdout + demo_run.stderr
    assert "4/4 wave(s) SUCCEEDED" in demo_run.stdout
    for wave in ("orders-db", "api-dns", "payments-dual-run", "decommission-acme"):
        assert wave in demo_run.stdout
    status = json.loads((out / "status.json").read_text())
    assert status["program"] == "acme-to-globex"
    # in dependency order, each at its runbook version with the digest of the definition that ran
    assert [w["wave"] for w in status["waves"]] == [
        "orders-db",
        "api-dns",
        "payments-dual-run",
        "decommission-acme",
    ]
    assert all(w["version"] == "v1" and w["definition_sha256"] for w in status["waves"])
    assert [w["status"] for w in status["waves"]] == ["SUCCEEDED"] * 4
    for wave in status["waves"]:
        assert wave["approvals"], f"{wave['wave']} has no approvals"
        assert all(a["approvers"] and a["decision"] == "approved" for a in wave["approvals"]), wave[
            "approvals"
        ]
    assert status["local"]["wall_seconds"] > 0  # its budget is measured by benchmarks/demo_wall_time.py
    events = [json.loads(line) for line in (out / "slack.jsonl").read_text().splitlines()]
    assert {"message", "response"} <= {e["kind"] for e in events}
    assert "<!doctype html>" in (out / "status.html").read_text()
    # And the Slack transcript has one thread per execution (started ... end), and no message pastes JSON
    executions = [e["execution_arn"] for wave in status["waves"] for e in wave["executions"]]
    assert len(executions) == 4
    for execution in executions:
        thread = [e for e in events if e["kind"] == "message" and _execution_of(e) == execution]
        assert [m.get("thread_ts") for m in thread] == [None] + [thread[0]["ts"]] * (len(thread) - 1)
        assert (_what(thread[0]), _what(thread[-1])) == ("started", "end"), execution
    assert not [t for e in events for t in _texts({k: e.get(k) for k in ("text", "blocks")}) if '["' in t]


def _execution_of(event: dict) -> str | None:
    return ((event.get("metadata") or {}).get("event_payload") or {}).get("execution")


def _what(event: dict) -> str | None:
    return ((event.get("metadata") or {}).get("event_payload") or {}).get("what")


def _texts(value) -> list[str]:
    """Every text a person reads in a message: its fallback text and every string in its blocks."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        shown = [item for key, item in value.items() if key not in ("action_id", "block_id")]
        return [t for item in shown for t in _texts(item)]
    if isinstance(value, list):
        return [t for item in value for t in _texts(item)]
    return []


def test_run_local_wave_whose_task_raises_exits_1_naming_the_error(cloud_assembly):
    # Given api-dns depends on orders-db, and its dependencies are not run first

    # When it is run on its own
    result = wavectl("run", "--local", "api-dns", "--no-deps", "--assembly", str(cloud_assembly))

    # Then it is reported FAILED with the guard's error name and message, and the exit code is 1
    assert result.returncode == 1, result.stdout + result.stderr
    assert "api-dns: FAILED" in result.stdout
    assert "Wavectl.DependencyNotMet: wave 'orders-db' has never run; run it first" in result.stdout


def test_run_without_local_is_refused_with_exit_2():
    # When run is asked for without --local
    result = wavectl("run", "orders-db")

    # Then it explains that run rehearses locally, and exits 2
    assert result.returncode == 2
    assert "--local" in result.stderr


def test_start_and_status_local_without_a_running_embedded_aws_exit_1():
    # Given nothing listens on the port
    port = str(_free_port())

    # When a wave is started there
    result = wavectl("start", "orders-db", "--local", "--port", port)

    # Then the user is told to start `wavectl local up`
    assert result.returncode == 1
    assert "wavectl local up" in result.stderr


def _serve(cloud_assembly: Path, *options: str):
    """`wavectl local up` in the background on a free port; yields the port, stopped afterwards."""
    port = _free_port()
    env = {**os.environ, "TZ": "UTC", "PYTHONUNBUFFERED": "1"}
    args = ["local", "up", "--port", str(port), "--assembly", str(cloud_assembly), *options]
    server = subprocess.Popen(
        [sys.executable, "-m", "wavectl", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            assert server.poll() is None, server.stdout.read().decode()
            time.sleep(0.2)
    yield port
    server.send_signal(signal.SIGINT)
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()


@pytest.fixture
def local_up(cloud_assembly):
    """`wavectl local up --auto-approve`: gates answered as the configured approvers would."""
    yield from _serve(cloud_assembly, "--auto-approve")


@pytest.fixture
def local_up_by_hand(cloud_assembly):
    """`wavectl local up`: nobody answers the gates but the test, through the CLI."""
    yield from _serve(cloud_assembly)


def _wave_status(port: str, wave: str) -> dict:
    status = wavectl("status", "--local", "--port", port, "--format", "json")
    return next(w for w in json.loads(status.stdout)["waves"] if w["wave"] == wave)


def _wave_when_ended(port: str, wave: str, timeout: float = 600) -> dict:
    """The wave's status.json entry once it stops RUNNING (or as it is when `timeout` runs out)."""
    deadline, entry = time.monotonic() + timeout, {}
    while time.monotonic() < deadline:
        entry = _wave_status(port, wave)
        if entry["status"] != "RUNNING":
            break
        time.sleep(0.5)
    return entry


def _pending(port: str, wave: str, gate: str, timeout: float = 600) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        listed = wavectl("approvals", "--local", "--port", port, "--json")
        assert listed.returncode == 0, listed.stderr
        found = [a for a in json.loads(listed.stdout) if a["wave"] == wave and a["gate"] == gate]
        if found:
            return found[0]
        time.sleep(0.5)
    raise AssertionError(f"gate {gate} of {wave} never became pending")


def test_rehearsal_by_hand_start_then_status_on_local_up(local_up):
    # Given the embedded AWS kept running by `wavectl local up`
    port = str(local_up)

    # When a wave is started on it and its status is read until it ends
    started = wavectl("start", "orders-db", "--local", "--port", port, "--requested-by", "U09OPS")
    wave = _wave_when_ended(port, "orders-db")
    table = wavectl("status", "--local", "--port", port)

    # Then the execution ran on the live alias's version and succeeded; the table shows it
    assert started.returncode == 0, started.stderr
    assert "started orders-db: arn:aws:states:eu-west-1:111111111111:execution:" in started.stdout
    assert wave["status"] == "SUCCEEDED", wave
    assert wave["state_machine_version_arn"].endswith(":acme-to-globex-orders-db:1")
    assert table.returncode == 0
    assert "SUCCEEDED" in table.stdout and "NOT_STARTED" in table.stdout


def test_rehearsal_by_hand_answers_each_gate_with_wavectl_approve(local_up_by_hand):
    # Given the embedded AWS kept running without an automatic approver, and a wave started by alice
    port = str(local_up_by_hand)
    started = wavectl("start", "orders-db", "--local", "--port", port, "--requested-by", "U01ALICE")
    assert started.returncode == 0, started.stderr

    # When alice tries to approve her own wave, and then bob and carol approve each gate
    first = _pending(port, "orders-db", "start-copy")
    own = wavectl("approve", first["approval_id"], "--local", "--port", port, "--as", "alice")
    for gate in ("start-copy", "accept-restored-databases"):
        approval_id = _pending(port, "orders-db", gate)["approval_id"]
        for person in ("bob", "carol"):
            answer = wavectl("approve", approval_id, "--local", "--port", port, "--as", person)
            assert answer.returncode == 0, answer.stderr
    wave = _wave_when_ended(port, "orders-db")

    # Then alice was refused (four eyes), the wave succeeded and status names bob and carol on both gates
    assert own.returncode == 1
    assert "refused (403): You requested this wave" in own.stderr, own.stderr
    assert wave["status"] == "SUCCEEDED", wave
    decided = {a["gate"]: (a["decision"], sorted(a["approvers"])) for a in wave["approvals"]}
    assert decided == {
        "start-copy": ("approved", ["U02BOB", "U03CAROL"]),
        "accept-restored-databases": ("approved", ["U02BOB", "U03CAROL"]),
    }
