"""`wavectl bridge FILE... --out DIR` as a user types it: outputs, manifest.json, exit codes, messages."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import EVENTS, ROOT

PAYMENTS = EVENTS / "payments"
GOOD = [
    "acme-payments-2026-11-30.csv",
    "acme-payments-2026-11-30.jsonl",
    "acme-pain001-001-03.xml",
    "acme-pain001-001-09.xml",
]
RECEIVED = datetime(2026, 11, 30, 7, 0, tzinfo=UTC).timestamp()


def wavectl(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "80"}
    return subprocess.run(
        [sys.executable, "-m", "wavectl", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


@pytest.fixture
def extracts(tmp_path: Path) -> Path:
    """The fixture files, copied as received on 2026-11-30 07:00 UTC (their modification time)."""
    folder = tmp_path / "extracts"
    folder.mkdir()
    for path in PAYMENTS.iterdir():
        if path.suffix in (".csv", ".jsonl", ".xml"):
            shutil.copyfile(path, folder / path.name)
            os.utime(folder / path.name, (RECEIVED, RECEIVED))
    return folder


def test_bridge_good_files_exit_zero_with_a_balanced_manifest(tmp_path, extracts):
    # Given the four fixtures with a few invalid records each
    # When a user runs the bridge on them
    result = wavectl("bridge", *(f"extracts/{name}" for name in GOOD), "--out", "checked", cwd=tmp_path)
    # Then it exits 0 and prints one plain line per file
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "acme-payments-2026-11-30.csv: 9 in, 5 out, 4 quarantined",
        "acme-payments-2026-11-30.jsonl: 6 in, 3 out, 3 quarantined",
        "acme-pain001-001-03.xml: 6 in, 3 out, 3 quarantined",
        "acme-pain001-001-09.xml: 5 in, 2 out, 3 quarantined",
        "4 file(s) balanced; manifest: checked/manifest.json",
    ]
    # And manifest.json has the shape, sums counting only the records out
    manifest = json.loads((tmp_path / "checked" / "manifest.json").read_text())
    first = manifest["files"][0]
    assert {k: first[k] for k in ("input", "records_in", "records_out", "records_quarantined")} == {
        "input": "extracts/acme-payments-2026-11-30.csv",
        "records_in": 9,
        "records_out": 5,
        "records_quarantined": 4,
    }
    assert first["sum_minor_by_currency"] == {"EUR": 99133750, "JPY": 1500, "KWD": 12345}
    assert manifest["balanced"] is True
    # And the outputs and quarantine it lists are there
    for entry in manifest["files"]:
        for relative in entry["outputs"] + entry["quarantine"]:
            assert (tmp_path / "checked" / relative).is_file()
    reasons = tmp_path / "checked" / "quarantine" / "acme-payments-2026-11-30.csv" / "records-00001.jsonl"
    assert [json.loads(line)["location"] for line in reasons.read_text().splitlines()] == [
        "line 6",
        "line 7",
        "line 8",
        "line 10",
    ]


def test_bridge_unusable_files_are_quarantined_whole_and_still_exit_zero(tmp_path, extracts):
    # Given three unusable files and a good one after them
    names = ["truncated-pain001.xml", "latin1-declared-utf8.xml", "wrong-header.csv", GOOD[0]]
    result = wavectl("bridge", *(f"extracts/{n}" for n in names), "--out", "checked", cwd=tmp_path)
    # Then each unusable file is quarantined whole with its reason, and the good file still flows
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("truncated-pain001.xml: quarantined whole: not well-formed XML")
    assert lines[1].startswith("latin1-declared-utf8.xml: quarantined whole: wrong encoding")
    assert lines[2].startswith("wrong-header.csv: quarantined whole: wrong CSV header")
    assert lines[3] == "acme-payments-2026-11-30.csv: 9 in, 5 out, 4 quarantined"
    assert all(len(line) <= 200 for line in lines)
    manifest = json.loads((tmp_path / "checked" / "manifest.json").read_text())
    assert [f["file_quarantined"] is not None for f in manifest["files"]] == [True, True, True, False]
    assert (tmp_path / "checked" / "quarantine" / "wrong-header.csv" / "wrong-header.csv").is_file()


def test_bridge_uses_the_runbook_payment_bridge_mappings_when_given(tmp_path, extracts):
    # Given a program whose payment_bridge maps statuses but not SETTLED
    from tests.unit.test_bridge_model import bridge_section

    runbooks = tmp_path / "runbooks"
    shutil.copytree(ROOT / "runbooks", runbooks)
    import yaml

    program = yaml.safe_load((runbooks / "program.yaml").read_text())
    section = bridge_section(enrichment={"statuses": {"BOOKED": "ACSC"}})
    program["payment_bridge"] = section
    (runbooks / "program.yaml").write_text(yaml.safe_dump(program))
    # When the bridge runs with --runbooks
    result = wavectl("bridge", f"extracts/{GOOD[0]}", "--out", "o", "--runbooks", "runbooks", cwd=tmp_path)
    # Then every record with an unmapped status is quarantined for it
    assert result.returncode == 0, result.stderr
    assert "9 in, 0 out, 9 quarantined" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["extracts/missing.csv", "--out", "o"], "wavectl bridge: extracts/missing.csv: no such file"),
        (["extracts", "--out", "o"], "wavectl bridge: extracts: not a file"),
        (["extracts/wrong-header.csv", "--out", "extracts/wrong-header.csv"], "exists and is not a folder"),
        (["extracts/wrong-header.csv", "--out", "extracts"], "not empty (choose an empty folder"),
        (
            ["extracts/wrong-header.csv", "--out", "o", "--runbooks", "nowhere"],
            "--runbooks nowhere: no such folder",
        ),
    ],
)
def test_bridge_unusable_arguments_exit_two_with_one_clear_line(tmp_path, extracts, args, message):
    result = wavectl("bridge", *args, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_bridge_without_out_is_a_usage_error(tmp_path, extracts):
    result = wavectl("bridge", "extracts/wrong-header.csv", cwd=tmp_path)
    assert result.returncode == 2
    assert "Missing option '--out'" in result.stderr


def test_bridge_replace_overwrites_an_earlier_output_only(tmp_path, extracts):
    # Given an earlier output in o/
    assert wavectl("bridge", f"extracts/{GOOD[0]}", "--out", "o", cwd=tmp_path).returncode == 0
    # When the bridge runs again into it with --replace / Then the old output is replaced
    again = wavectl("bridge", f"extracts/{GOOD[1]}", "--out", "o", "--replace", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == [GOOD[1], "manifest.json", "quarantine"]
    # And a folder that is not bridge output is never removed
    refused = wavectl("bridge", f"extracts/{GOOD[1]}", "--out", "extracts", "--replace", cwd=tmp_path)
    assert refused.returncode == 2 and "not an earlier wavectl bridge output" in refused.stderr
    assert (tmp_path / "extracts" / GOOD[0]).is_file()


def test_bridge_file_that_cannot_be_written_exits_one_and_the_others_still_run(
    tmp_path, extracts, monkeypatch
):
    # Given a disk that fills up while the first file's second chunk is written (in-process: the same CLI)
    from typer.testing import CliRunner

    from tasks.payments.storage import LocalSink
    from wavectl.cli import app

    write = LocalSink.write

    def full_disk(self, area, name, data):
        if name == "part-00002.csv" and self.areas["out"].name == GOOD[0]:
            raise OSError(28, "No space left on device")
        write(self, area, name, data)

    monkeypatch.setattr(LocalSink, "write", full_disk)
    monkeypatch.chdir(tmp_path)
    # When the bridge runs on two files with chunks of 2 records
    from tasks.payments import pipeline

    monkeypatch.setattr(
        "wavectl.cli_bridge.pipeline_settings", lambda _: pipeline.PipelineSettings(chunk_size=2)
    )
    result = CliRunner().invoke(app, ["bridge", f"extracts/{GOOD[0]}", f"extracts/{GOOD[1]}", "--out", "o"])
    # Then the exit code is 1, the problem is named, and the next file was still processed
    assert result.exit_code == 1, result.output
    assert "could not be processed: OSError: [Errno 28] No space left on device" in result.output
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert [f["balanced"] for f in manifest["files"]] == [False, True]


def test_bridge_file_named_like_its_own_manifest_gets_its_own_folder(tmp_path, extracts):
    shutil.copyfile(PAYMENTS / GOOD[1], tmp_path / "extracts" / "manifest.json")
    result = wavectl("bridge", "extracts/manifest.json", "--out", "o", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "o" / "input-manifest.json" / "part-00001.csv").is_file()


def test_bridge_help_explains_outputs_and_exit_codes(tmp_path):
    result = wavectl("bridge", "--help", cwd=tmp_path)
    assert result.returncode == 0
    for phrase in ("DIR/manifest.json", "quarantine", "Exit status: 0", "1 when a file", "2 on unusable"):
        assert phrase in " ".join(result.stdout.split())


def test_bridge_with_the_example_program_enriches_ledger_codes_and_statuses(tmp_path, extracts):
    # Given the example program's payment_bridge (account -> ledger code, SETTLED -> ACSC, PDNG -> PDNG)
    runbooks = str(ROOT / "runbooks")
    names = [f"extracts/{GOOD[0]}", f"extracts/{GOOD[2]}"]
    # When the CSV and the pain.001.001.03 fixtures go through the bridge with it
    result = wavectl("bridge", *names, "--out", "o", "--runbooks", runbooks, cwd=tmp_path)
    # Then the valid records carry the new ledger code and status; the counts are as without mappings
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[:2] == [
        "acme-payments-2026-11-30.csv: 9 in, 5 out, 4 quarantined",
        "acme-pain001-001-03.xml: 6 in, 3 out, 3 quarantined",
    ]
    import csv

    rows = list(csv.DictReader((tmp_path / "o" / GOOD[0] / "part-00001.csv").open(newline="")))
    assert {(r["end_to_end_id"], r["ledger_code"], r["status"]) for r in rows[:3]} == {
        ("ACME-E2E-0001", "GLX-LEDGER-7", "ACSC"),
        ("ACME-E2E-0002", "GLX-LEDGER-7", "ACSC"),
        ("ACME-E2E-0003", "GLX-LEDGER-8", "ACSC"),
    }
    rows = list(csv.DictReader((tmp_path / "o" / GOOD[2] / "part-00001.csv").open(newline="")))
    assert {(r["ledger_code"], r["status"]) for r in rows} == {
        ("GLX-LEDGER-7", "PDNG"),
        ("GLX-LEDGER-8", "PDNG"),
    }
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert manifest["settings"]["from"].endswith("runbooks/program.yaml payment_bridge")
