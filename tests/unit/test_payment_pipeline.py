"""The bridge pipeline on the fixture files: exact outputs and quarantine, balance, whole-file quarantine."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import xmlschema

from tasks.payments.chunks import verify_batch
from tasks.payments.pipeline import FileReport, PipelineSettings, process
from tasks.payments.storage import LocalSink
from tasks.payments.xsd import xsd_path
from tests.conftest import EVENTS

PAYMENTS = EVENTS / "payments"
RECEIVED = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
SETTINGS = PipelineSettings(chunk_size=2)


def run(path: Path, out: Path, settings: PipelineSettings = SETTINGS, name: str | None = None) -> FileReport:
    sink = LocalSink(out, path.name, path)
    with path.open("rb") as stream:
        return process(stream, name or path.name, settings, sink, RECEIVED, {"path": path.name})


def output_rows(out: Path, report: FileReport, batch: str) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for chunk in report.chunks:
        rows += csv.DictReader(io.StringIO((out / batch / chunk["name"]).read_text(), newline=""))
    return rows


def quarantined(out: Path, report: FileReport, batch: str) -> list[tuple[str, str]]:
    entries = []
    for name in report.quarantine_files:
        for line in (out / "quarantine" / batch / name).read_text().splitlines():
            entry = json.loads(line)
            entries.append((entry["location"], entry["reason"]))
    return entries


EXPECTED = {
    "acme-payments-2026-11-30.csv": {
        "out": ["ACME-E2E-0001", "ACME-E2E-0002", "ACME-E2E-0003", "ACME-E2E-0004", "ACME-E2E-0008"],
        "sums": {"EUR": 99133750, "JPY": 1500, "KWD": 12345},
        "quarantined": [
            ("line 6", "creditor_iban 'NL20INGB0001234568' is not a valid IBAN: Invalid checksum digits"),
            ("line 7", "amount '1500.50' has more precision than JPY allows (no decimals)"),
            ("line 8", "duplicate end_to_end_id 'ACME-E2E-0001' (first at line 2)"),
            ("line 10", "missing required field: creditor_name"),
        ],
    },
    "acme-payments-2026-11-30.jsonl": {
        "out": ["ACME-J-0001", "ACME-J-0002", "ACME-J-0006"],
        "sums": {"EUR": 455074},
        "quarantined": [
            ("line 3", "not valid JSON: Expecting property name enclosed in double quotes (column 1)"),
            ("line 4", "amount '-5.00' is not a plain positive decimal (digits, optional '.' and decimals)"),
            ("line 5", "requested_execution_date '2026-02-30' is not a calendar date"),
        ],
    },
    "acme-pain001-001-03.xml": {
        "out": ["ACME-X3-0001", "ACME-X3-0002", "ACME-X3-0006"],
        "sums": {"EUR": 625010},
        "quarantined": [
            (
                "/Document/CstmrCdtTrfInitn/PmtInf[1]/CdtTrfTxInf[3]",
                "creditor_iban 'BE68539007547035' is not a valid IBAN: Invalid checksum digits",
            ),
            (
                "/Document/CstmrCdtTrfInitn/PmtInf[2]/CdtTrfTxInf[1]",
                "amount '10.005' has more precision than EUR allows (2 decimals)",
            ),
            (
                "/Document/CstmrCdtTrfInitn/PmtInf[2]/CdtTrfTxInf[2]",
                "duplicate end_to_end_id 'ACME-X3-0001' "
                "(first at /Document/CstmrCdtTrfInitn/PmtInf[1]/CdtTrfTxInf[1])",
            ),
        ],
    },
    "acme-pain001-001-09.xml": {
        "out": ["ACME-X9-0001", "ACME-X9-0005"],
        "sums": {"EUR": 150000},
        "quarantined": [
            (
                "/Document/CstmrCdtTrfInitn/PmtInf[1]/CdtTrfTxInf[2]",
                "creditor_bic 'ABCDXX22' is not a valid BIC: Invalid country code 'XX'",
            ),
            (
                "/Document/CstmrCdtTrfInitn/PmtInf[1]/CdtTrfTxInf[3]",
                "currency 'ABC' is not an ISO 4217 payment currency",
            ),
            (
                "/Document/CstmrCdtTrfInitn/PmtInf[1]/CdtTrfTxInf[4]",
                "XSD: Element 'Ustrd': [facet 'maxLength'] The value has a length of '151'; "
                "this exceeds the allowed maximum length of '140'.",
            ),
        ],
    },
}


@pytest.mark.parametrize("fixture", list(EXPECTED))
def test_process_fixture_outputs_and_quarantine_are_exactly_right(tmp_path, fixture):
    # Given a fixture with a few invalid records / When it goes through the pipeline (chunks of 2)
    expected = EXPECTED[fixture]
    report = run(PAYMENTS / fixture, tmp_path)
    rows = output_rows(tmp_path, report, fixture)
    # Then exactly the valid records go out, the invalid ones are quarantined with their reasons
    assert [row["end_to_end_id"] for row in rows] == expected["out"]
    assert quarantined(tmp_path, report, fixture) == expected["quarantined"]
    # And the manifest balances, sums only the records out, and every chunk holds at most 2 records
    assert report.records_in == len(expected["out"]) + len(expected["quarantined"])
    assert (report.records_out, report.records_quarantined) == (len(rows), len(expected["quarantined"]))
    assert report.balanced
    assert report.sum_minor_by_currency == expected["sums"]
    assert all(chunk["records"] <= 2 for chunk in report.chunks)
    manifest = json.loads((tmp_path / fixture / "manifest.json").read_text())
    assert manifest["balanced"] is True and manifest["records_in"] == report.records_in
    assert verify_batch(manifest, lambda name: (tmp_path / fixture / name).read_bytes()) == []


def test_process_writes_canonical_header_then_bridge_metadata(tmp_path):
    report = run(PAYMENTS / "acme-payments-2026-11-30.csv", tmp_path)
    first = (tmp_path / "acme-payments-2026-11-30.csv" / report.chunks[0]["name"]).read_text().splitlines()
    assert first[0] == (
        "end_to_end_id,amount,currency,debtor_iban,debtor_bic,debtor_name,creditor_iban,creditor_bic,"
        "creditor_name,requested_execution_date,status,remittance_info,"
        "ledger_code,source_file,source_location,received_at,bridge_version"
    )
    assert first[1].startswith("ACME-E2E-0001,1250.00,EUR,DE89370400440532013000,")


def test_process_json_number_amount_stays_exact(tmp_path):
    # Given a JSON Lines record whose amount is a JSON number (250.75) / Then it is never a float
    report = run(PAYMENTS / "acme-payments-2026-11-30.jsonl", tmp_path)
    rows = output_rows(tmp_path, report, "acme-payments-2026-11-30.jsonl")
    assert rows[0]["amount"] == "250.75"


def test_process_chunk_sidecar_manifest_has_count_sums_and_sha256(tmp_path):
    report = run(PAYMENTS / "acme-payments-2026-11-30.csv", tmp_path)
    batch = tmp_path / "acme-payments-2026-11-30.csv"
    assert [c["records"] for c in report.chunks] == [2, 2, 1]
    sidecar = json.loads((batch / "part-00001.csv.manifest.json").read_text())
    data = (batch / "part-00001.csv").read_bytes()
    assert sidecar == {
        "name": "part-00001.csv",
        "records": 2,
        "sha256": hashlib.sha256(data).hexdigest(),
        "sum_minor_by_currency": {"EUR": 125000, "JPY": 1500},
    }


def test_pain001_xsd_verdicts_agree_with_xmlschema_on_whole_documents():
    # Given the two pain.001 fixtures, validated whole by xmlschema against the same bundled XSDs
    def invalid_transactions(fixture: str, version: str) -> set[str]:
        schema = xmlschema.XMLSchema(xsd_path(version))
        return {e.path.split("/RmtInf")[0] for e in schema.iter_errors(str(PAYMENTS / fixture))}

    # Then the transactions xmlschema finds invalid are exactly those the streamed check refused for the XSD
    assert invalid_transactions("acme-pain001-001-03.xml", "pain.001.001.03") == set()
    xsd_refused = {
        loc for loc, reason in EXPECTED["acme-pain001-001-09.xml"]["quarantined"] if "XSD" in reason
    }
    assert {
        p.replace("PmtInf/", "PmtInf[1]/")
        for p in invalid_transactions("acme-pain001-001-09.xml", "pain.001.001.09")
    } == xsd_refused


@pytest.mark.parametrize(
    ("fixture", "reason", "read_before"),
    [
        (
            "truncated-pain001.xml",
            "not well-formed XML (truncated or damaged): Couldn't find end of Start Tag",
            3,
        ),
        ("latin1-declared-utf8.xml", "wrong encoding: the bytes are not in the encoding the XML declares", 1),
        ("wrong-header.csv", "wrong CSV header: missing columns end_to_end_id, amount; unknown columns", 0),
    ],
)
def test_process_unusable_file_is_quarantined_whole_with_its_reason(tmp_path, fixture, reason, read_before):
    # Given an unusable file, read with chunks of 1 so chunks are written before the problem shows
    report = run(PAYMENTS / fixture, tmp_path, PipelineSettings(chunk_size=1))
    # Then nothing goes out (chunks already written are withdrawn), the file is kept with its reason
    assert report.file_quarantined.startswith(reason)
    assert sorted(p.name for p in (tmp_path / fixture).iterdir()) == ["manifest.json"]
    kept = tmp_path / "quarantine" / fixture
    assert (kept / fixture).read_bytes() == (PAYMENTS / fixture).read_bytes()
    document = json.loads((kept / "file-quarantined.json").read_text())
    assert document["reason"] == report.file_quarantined
    # And the balance holds: what was read is counted as quarantined
    assert (report.records_in, report.records_out, report.records_quarantined) == (
        read_before,
        0,
        read_before,
    )
    assert report.balanced


def pain001_with(tmp_path: Path, old: str, new: str) -> Path:
    path = tmp_path / "edited.xml"
    text = (PAYMENTS / "acme-pain001-001-03.xml").read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    return path


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        (
            "<NbOfTxs>6</NbOfTxs>",
            "<NbOfTxs>7</NbOfTxs>",
            "GrpHdr/NbOfTxs says 7 transactions, the file has 6",
        ),
        (
            "<CtrlSum>6355.105</CtrlSum>",
            "<CtrlSum>6355.10</CtrlSum>",
            "GrpHdr/CtrlSum is 6355.10, the transactions",
        ),
        ("<MsgId>ACME-20261130-0001</MsgId>", "", "group header GrpHdr fails the XSD"),
    ],
)
def test_process_pain001_whose_group_header_disagrees_is_quarantined_whole(tmp_path, old, new, reason):
    report = run(pain001_with(tmp_path, old, new), tmp_path / "out")
    assert report.file_quarantined.startswith(reason)
    assert report.records_out == 0 and report.balanced


def test_process_pain001_payment_block_failing_the_xsd_quarantines_its_transactions(tmp_path):
    # Given the second payment block with an unknown payment method
    path = pain001_with(
        tmp_path,
        "<PmtInfId>ACME-20261130-PI-02</PmtInfId>\n      <PmtMtd>TRF</PmtMtd>",
        "<PmtInfId>ACME-20261130-PI-02</PmtInfId>\n      <PmtMtd>XXX</PmtMtd>",
    )
    report = run(path, tmp_path / "out")
    # Then its three transactions are quarantined for it, the first block's valid ones still go out
    reasons = [reason for _, reason in quarantined(tmp_path / "out", report, "edited.xml")]
    assert sum(reason.startswith("PmtInf[2] PmtMtd: XSD:") for reason in reasons) == 3
    assert report.records_out == 2 and report.balanced


def test_process_csv_row_with_wrong_field_count_is_quarantined_alone(tmp_path):
    path = tmp_path / "short-row.csv"
    lines = (PAYMENTS / "acme-payments-2026-11-30.csv").read_text().splitlines()
    path.write_text("\n".join([lines[0], lines[1], "ACME-E2E-0100,10.00,EUR", lines[3]]) + "\n")
    report = run(path, tmp_path / "out")
    assert quarantined(tmp_path / "out", report, "short-row.csv") == [
        ("line 3", "row has 3 fields, the header has 13")
    ]
    assert (report.records_out, report.records_quarantined) == (2, 1)


def test_process_csv_that_is_not_utf8_is_quarantined_whole(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes((PAYMENTS / "acme-payments-2026-11-30.csv").read_text().encode("latin-1"))
    report = run(path, tmp_path / "out")
    assert report.file_quarantined.startswith("not UTF-8 text: byte 0xe9 cannot be decoded")


def test_process_format_not_accepted_by_the_runbook_is_quarantined_whole(tmp_path):
    settings = PipelineSettings(input_formats=("csv", "jsonl"))
    report = run(PAYMENTS / "acme-pain001-001-09.xml", tmp_path, settings)
    assert report.file_quarantined == "format pain.001.001.09 is not accepted (input_formats: csv, jsonl)"


def test_process_writes_json_lines_when_the_runbook_asks(tmp_path):
    report = run(PAYMENTS / "acme-payments-2026-11-30.csv", tmp_path, PipelineSettings(output_format="jsonl"))
    first = (tmp_path / "acme-payments-2026-11-30.csv" / "part-00001.jsonl").read_text().splitlines()[0]
    assert json.loads(first)["amount"] == "1250.00"
    assert report.records_out == 5


def test_verify_batch_finds_a_changed_chunk_and_a_broken_balance(tmp_path):
    # Given a processed file whose chunk is altered afterwards, and a manifest whose counts were edited
    run(PAYMENTS / "acme-payments-2026-11-30.csv", tmp_path)
    batch = tmp_path / "acme-payments-2026-11-30.csv"
    manifest: dict[str, Any] = json.loads((batch / "manifest.json").read_text())
    chunk = batch / "part-00001.csv"
    chunk.write_text(chunk.read_text().replace("1250.00", "1250.01"))
    manifest["records_quarantined"] -= 1
    # When the transfer step's check runs / Then both are reported
    problems = verify_batch(
        manifest, lambda name: (batch / name).read_bytes() if (batch / name).exists() else None
    )
    assert "part-00001.csv: sha256 differs from the manifest" in problems
    assert "records in 9 != out 5 + quarantined 3" in problems


def test_verify_batch_recounts_rows_and_sums_of_a_chunk(tmp_path):
    # Given a chunk and its manifest entry both rewritten consistently, but with a row dropped
    run(PAYMENTS / "acme-payments-2026-11-30.csv", tmp_path)
    batch = tmp_path / "acme-payments-2026-11-30.csv"
    manifest = json.loads((batch / "manifest.json").read_text())
    lines = (batch / "part-00001.csv").read_text().splitlines(keepends=True)
    forged = "".join(lines[:-1]).encode()
    manifest["chunks"][0]["sha256"] = hashlib.sha256(forged).hexdigest()
    problems = verify_batch(
        manifest, lambda name: forged if name == "part-00001.csv" else (batch / name).read_bytes()
    )
    assert "part-00001.csv: 1 records, the manifest says 2" in problems


def test_local_sink_keeps_the_input_byte_for_byte(tmp_path):
    source = tmp_path / "in.csv"
    shutil.copyfile(PAYMENTS / "wrong-header.csv", source)
    LocalSink(tmp_path / "out", "in.csv", source).keep_input("in.csv")
    assert (tmp_path / "out" / "quarantine" / "in.csv" / "in.csv").read_bytes() == source.read_bytes()


CORRUPTIONS = [
    ("amount", "12.345"),
    ("amount", "-1"),
    ("currency", "EUX"),
    ("creditor_iban", "NL20INGB0001234568"),
    ("requested_execution_date", "2026-13-01"),
    ("debtor_name", ""),
]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_process_every_record_is_either_out_or_quarantined_exactly_once(tmp_path, seed):
    # Given 300 records, a random third of them corrupted in a random way, some ids repeated
    import random

    rng = random.Random(seed)
    lines = (PAYMENTS / "acme-payments-2026-11-30.csv").read_text().splitlines()
    header = lines[0].split(",")
    template = dict(zip(header, next(csv.reader([lines[1]])), strict=True))
    rows, expected_bad = [], set()
    for n in range(300):
        row = {**template, "end_to_end_id": f"RND-{rng.randint(0, 280):04d}"}
        if rng.random() < 0.33:
            field, value = rng.choice(CORRUPTIONS)
            row[field] = value
            expected_bad.add(n)
        rows.append(row)
    path = tmp_path / "random.csv"
    with path.open("w", newline="") as out:
        writer = csv.DictWriter(out, header)
        writer.writeheader()
        writer.writerows(rows)
    # When it goes through the pipeline
    report = run(path, tmp_path / "out", PipelineSettings(chunk_size=37))
    # Then each input line is in exactly one of out / quarantine, and the corrupted ones are never out
    out_lines = [r["source_location"] for r in output_rows(tmp_path / "out", report, "random.csv")]
    quarantined_lines = [loc for loc, _ in quarantined(tmp_path / "out", report, "random.csv")]
    assert sorted(out_lines + quarantined_lines, key=lambda s: int(s.split()[1])) == [
        f"line {n + 2}" for n in range(300)
    ]
    assert not {f"line {n + 2}" for n in expected_bad} & set(out_lines)
    assert len(set(r for r in out_lines)) == len(out_lines)
    assert report.balanced and report.records_in == 300
    ids_out = [r["end_to_end_id"] for r in output_rows(tmp_path / "out", report, "random.csv")]
    assert len(ids_out) == len(set(ids_out))
