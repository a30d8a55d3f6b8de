"""`wavectl validate | schema | plan | synth` as a user types them: exit codes and messages."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, RUNBOOKS


def wavectl(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "wavectl", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


@pytest.fixture
def broken(tmp_path: Path):
    """Copy the example runbooks and break one wave file with a text substitution."""

    def make(old: str, new: str, wave_file: str = "01-orders-db.yaml") -> Path:
        root = tmp_path / "runbooks"
        shutil.copytree(RUNBOOKS, root)
        path = root / "waves" / wave_file
        text = path.read_text()
        assert old in text
        path.write_text(text.replace(old, new, 1))
        return tmp_path

    return make


def test_validate_example_exits_zero():
    result = wavectl("validate", "runbooks/")
    assert result.returncode == 0, result.stderr
    assert "acme-to-globex: 4 wave(s) valid" in result.stdout


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("target_region: eu-west-1", "target_region: us-east-1", "runbooks/waves/01-orders-db.yaml:13:20: "
         "target_region us-east-1 is not allowed for data class eu-personal"),
        ("depends_on: []", "depends_on: [billing-db]", "runbooks/waves/01-orders-db.yaml:6:14: "
         "depends_on: unknown wave 'billing-db'"),
        ("depends_on: []", "depends_on: [decommission-acme]", "runbooks/waves/02-api-dns.yaml:6:13: "
         "dependency cycle: api-dns -> orders-db -> decommission-acme -> api-dns"),
        ("timeout: 4h", "timeout: four hours", "runbooks/waves/01-orders-db.yaml:7:51: "
         "approval.timeout: invalid duration 'four hours'"),
        ("max_concurrency: 16", "max_concurrency: [16",
         "runbooks/waves/01-orders-db.yaml:9:1: YAML syntax error"),
        ("version: 1\n", "", "runbooks/waves/01-orders-db.yaml:2:1: missing required field 'version'"),
    ],
    ids=["residency", "unknown-dependency", "cycle", "bad-duration", "yaml-syntax", "missing-field"],
)  # fmt: skip
def test_validate_broken_runbook_exits_2_with_location(broken, old: str, new: str, expected: str):
    # Given a runbook broken in one way
    cwd = broken(old, new)
    # When the user validates it
    result = wavectl("validate", "runbooks/", cwd=cwd)
    # Then exit code 2, the located message on stderr, and no traceback
    assert result.returncode == 2
    assert expected in result.stderr, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert "nothing was done" in result.stderr


def test_schema_matches_the_committed_file():
    result = wavectl("schema")
    assert result.returncode == 0
    assert json.loads(result.stdout) == json.loads((RUNBOOKS / "schema.json").read_text())


def test_plan_lists_waves_in_dependency_order():
    result = wavectl("plan", "runbooks/")
    assert result.returncode == 0, result.stderr
    positions = [result.stdout.find(w) for w in ("orders-db", "api-dns", "decommission-acme")]
    assert -1 not in positions and positions == sorted(positions)


def test_synth_writes_one_template_per_stack(tmp_path: Path):
    # When the user synthesises without bundling into a folder of their choice
    outdir = tmp_path / "assembly"
    result = wavectl("synth", "runbooks/", "--out", str(outdir), "--no-bundle")
    # Then a template per stack: the control plane, the bridge, one per wave, and the role stack of each
    # account whose role the waves' tasks assume (source, target)
    assert result.returncode == 0, result.stderr
    names = sorted(p.name for p in outdir.glob("*.template.json"))
    assert names == [
        "ControlPlane.template.json",
        "CrossAccount-source.template.json",
        "CrossAccount-target.template.json",
        "PaymentBridge.template.json",
        "Wave-api-dns.template.json",
        "Wave-decommission-acme.template.json",
        "Wave-orders-db.template.json",
        "Wave-payments-dual-run.template.json",
    ]
    for name in (n for n in names if n.startswith("Wave-")):
        resources = json.loads((outdir / name).read_text())["Resources"].values()
        kinds = [r["Type"] for r in resources]
        # one per wave; the database wave adds its per-database workflow (one child execution each)
        machines = 2 if "orders-db" in name else 1
        assert kinds.count("AWS::StepFunctions::StateMachine") == machines
        assert kinds.count("AWS::StepFunctions::StateMachineVersion") == machines
        aliases = [r for r in resources if r["Type"] == "AWS::StepFunctions::StateMachineAlias"]
        assert [a["Properties"]["Name"] for a in aliases] == ["live"] * machines
    # and no Node.js banner noise reaches the user
    assert "end-of-life" not in result.stderr.lower()


def test_help_explains_each_command_with_an_example():
    for command in ("validate", "schema", "synth", "plan"):
        result = wavectl(command, "--help")
        assert result.returncode == 0
        assert "Example: wavectl " in result.stdout, command


def test_unknown_command_exits_2():
    result = wavectl("frobnicate")
    assert result.returncode == 2


def test_synth_refuses_to_wipe_a_folder_that_is_not_an_assembly(tmp_path: Path):
    # Given a folder holding the user's own files
    precious = tmp_path / "notes"
    precious.mkdir()
    (precious / "important.txt").write_text("do not delete")
    # When they mistype --out
    result = wavectl("synth", "runbooks/", "--out", str(precious), "--no-bundle")
    # Then synth refuses (exit 2), says why, and the file is still there
    assert result.returncode == 2
    assert "is not empty and holds no cloud assembly" in result.stderr
    assert (precious / "important.txt").read_text() == "do not delete"
