"""`wavectl reconcile` as a user types it: outputs, exit codes 0 / 1 / 2, one-line errors."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tasks.contracts import CANONICAL_PAYMENT_FIELDS
from tests.conftest import ROOT, RUNBOOKS

OUTPUTS = {
    "summary.json",
    "summary.txt",
    "breaks.csv",
    "missing_in_new.csv",
    "extra_in_new.csv",
    "duplicates.csv",
}
ROW = dict(
    zip(
        CANONICAL_PAYMENT_FIELDS,
        ["E2E-1", "10.00", "EUR", "DE89370400440532013000", "COBADEFFXXX", "Jane Doe",
         "FR7630006000011234567890189", "AGRIFRPPXXX", "Bob Martin", "2026-11-29", "ACSC", "inv 1"],
        strict=True,
    )
)  # fmt: skip


def wavectl(*args: str | Path, python_options: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200", "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, *python_options, "-m", "wavectl", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def write(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=CANONICAL_PAYMENT_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def day(tmp_path: Path) -> tuple[Path, Path, Path]:
    """An old file of three payments and a new file where the second one's amount is a cent higher."""
    rows = [dict(ROW, end_to_end_id=f"E2E-{i}") for i in range(3)]
    changed = [dict(row) for row in rows]
    changed[1]["amount"] = "10.01"
    return write(tmp_path / "old.csv", rows), write(tmp_path / "new.csv", changed), tmp_path / "out"


def test_reconcile_clean_day_exits_zero(tmp_path: Path):
    # Given the same payments on both sides
    old = write(tmp_path / "old.csv", [ROW])
    new = write(tmp_path / "new.csv", [ROW])

    # When reconciled (with Python listing the modules it imports)
    result = wavectl("reconcile", old, new, "--out", tmp_path / "out", python_options=("-X", "importtime"))

    # Then exit 0, the summary is printed, and every output file is written
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Reconciliation CLEAN: 1 payments matched on end_to_end_id")
    assert {p.name for p in (tmp_path / "out").iterdir()} == OUTPUTS
    # And the command started without loading the AWS SDK or the runbook models (a second of CPU)
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines() if "|" in line}
    assert "duckdb" in imported
    assert not imported & {"boto3", "botocore", "wavectl.runbook", "wavectl.cli"}


def test_reconcile_not_clean_exits_one_and_says_so(day: tuple[Path, Path, Path]):
    # Given a day with one amount break
    old, new, out = day

    # When reconciled in 4 partitions
    result = wavectl("reconcile", old, new, "--out", out, "--partitions", "4")

    # Then exit 1, the break is shown, and stderr says the day is not clean
    assert result.returncode == 1
    assert "Field breaks: amount 1." in result.stdout
    assert "E2E-1 amount: 10.00 -> 10.01" in result.stdout
    assert "not clean" in result.stderr


def test_reconcile_with_runbooks_uses_the_payment_wave(day: tuple[Path, Path, Path]):
    # Given the example runbooks (one payment-dual-run wave)
    old, new, out = day

    # When reconciled with --runbooks
    result = wavectl("reconcile", old, new, "--out", out, "--runbooks", RUNBOOKS)

    # Then the wave is found and the day is reconciled with its rules
    assert result.returncode == 1, result.stderr
    assert "Field breaks: amount 1." in result.stdout


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("missing-file", "wavectl reconcile: NEW"),
        ("missing-column", "missing column(s) currency"),
        ("bad-format", "unknown format"),
        ("bad-memory", "wavectl reconcile: "),
        ("bad-wave", "no payment-dual-run wave nope in"),
    ],
)
def test_reconcile_unusable_arguments_exit_two_in_one_line(
    day: tuple[Path, Path, Path], change: str, message: str
):
    # Given one unusable argument
    old, new, out = day
    extra: list[str | Path] = []
    if change == "missing-file":
        new = new.with_name("absent.csv")
    elif change == "missing-column":
        new.write_text("end_to_end_id,amount\nE2E-1,10.00\n")
    elif change == "bad-format":
        new = new.rename(new.with_suffix(".xlsx"))
    elif change == "bad-memory":
        extra = ["--memory-limit", "lots"]
    else:
        extra = ["--runbooks", RUNBOOKS, "--wave", "nope"]

    # When reconciled
    result = wavectl("reconcile", old, new, "--out", out, *extra)

    # Then exit 2 with one line naming the problem, and no traceback
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr
