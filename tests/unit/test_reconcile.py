"""The reconciliation engine on hand-made files: each rule, duplicates, decimals, odd inputs, scale-out."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tasks.contracts import CANONICAL_PAYMENT_FIELDS
from tasks.payments.reconcile import (
    EngineLimits,
    ReconcileInputError,
    ReconcileRules,
    reconcile,
    reconcile_partitioned,
)

BASE: dict[str, str] = {
    "end_to_end_id": "E2E-1",
    "amount": "100.00",
    "currency": "EUR",
    "debtor_iban": "DE89370400440532013000",
    "debtor_bic": "COBADEFFXXX",
    "debtor_name": "Jane Doe",
    "creditor_iban": "FR7630006000011234567890189",
    "creditor_bic": "AGRIFRPPXXX",
    "creditor_name": "Bob Martin",
    "requested_execution_date": "2026-11-29",
    "status": "ACSC",
    "remittance_info": "invoice 42",
}


def payment(**changes: str) -> dict[str, str]:
    return {**BASE, **changes}


def write_csv(path: Path, rows: list[dict[str, str]], header: bool = True) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=CANONICAL_PAYMENT_FIELDS)
        if header:
            writer.writeheader()
        writer.writerows(rows)
    return path


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def run(
    tmp_path: Path,
    old: list[dict[str, str]],
    new: list[dict[str, str]],
    rules: ReconcileRules | None = None,
) -> tuple[dict[str, Any], Path]:
    out = tmp_path / "out"
    summary = reconcile(
        write_csv(tmp_path / "old.csv", old), write_csv(tmp_path / "new.csv", new), out, rules
    )
    return summary, out


BREAKS = [
    ("amount", "100.00", "100.01"),
    ("currency", "EUR", "eur"),
    ("debtor_iban", "DE89370400440532013000", "DE89370400440532013001"),
    ("debtor_bic", "COBADEFFXXX", "DEUTDEFFXXX"),
    ("debtor_name", "Jane Doe", "Jane Dough"),
    ("creditor_iban", "FR7630006000011234567890189", "FR7630006000011234567890188"),
    ("creditor_bic", "AGRIFRPPXXX", "BNPAFRPPXXX"),
    ("creditor_name", "Bob Martin", "Rob Martin"),
    ("requested_execution_date", "2026-11-29", "2026-11-30"),
    ("status", "ACSC", "RJCT"),
    ("remittance_info", "invoice 42", "invoice 43"),
]


@pytest.mark.parametrize(("field", "old_value", "new_value"), BREAKS, ids=[b[0] for b in BREAKS])
def test_reconcile_reports_each_field_break(tmp_path: Path, field: str, old_value: str, new_value: str):
    # Given one payment whose field differs between the two sides, and one identical payment
    old = [payment(**{field: old_value}), payment(end_to_end_id="E2E-2")]
    new = [payment(**{field: new_value}), payment(end_to_end_id="E2E-2")]

    # When reconciled
    summary, out = run(tmp_path, old, new)

    # Then exactly that field breaks, once, with both values in breaks.csv, and the day is not clean
    assert summary["matched"] == 2
    assert summary["breaks"] == {name: int(name == field) for name in CANONICAL_PAYMENT_FIELDS[1:]}
    assert read_csv(out / "breaks.csv") == [
        {"end_to_end_id": "E2E-1", "field": field, "old_value": old_value, "new_value": new_value}
    ]
    assert summary["clean"] is False


@pytest.mark.parametrize(
    ("field", "old_value", "new_value"),
    [
        ("debtor_name", "Jane Doe", " JANE   doe "),
        ("creditor_name", "Bob Martin", "bob martin"),
        ("debtor_iban", "DE89370400440532013000", "de89 3704 0044 0532 0130 00"),
        ("creditor_bic", "AGRIFRPPXXX", "agrifrppxxx"),
        ("requested_execution_date", "2026-11-29", "20261129"),
        ("requested_execution_date", "2026-11-29", "29.11.2026"),
        ("amount", "100.00", "100"),
        ("amount", "100.00", "100.0"),
        ("status", "ACSC", " acsc "),
        ("remittance_info", "", None),
    ],
)
def test_reconcile_normalises_cosmetic_differences(
    tmp_path: Path, field: str, old_value: str, new_value: str
):
    # Given the same payment spelled differently (case, spaces, date format, trailing zeros, empty vs absent)
    new_row = payment(**{field: new_value}) if new_value is not None else {**BASE, field: ""}

    # When reconciled
    summary, out = run(tmp_path, [payment(**{field: old_value})], [new_row])

    # Then nothing breaks and the day is clean
    assert summary["matched"] == 1
    assert not any(summary["breaks"].values())
    assert read_csv(out / "breaks.csv") == []
    assert summary["clean"] is True


def test_reconcile_lists_missing_and_extra_payments_in_full(tmp_path: Path):
    # Given a payment only the old side has and one only the new side has
    old = [payment(), payment(end_to_end_id="E2E-OLD", creditor_name='Only, "Old"')]
    new = [payment(), payment(end_to_end_id="E2E-NEW", amount="7.00")]

    # When reconciled
    summary, out = run(tmp_path, old, new)

    # Then each is counted and listed with every canonical field (quoting survives)
    assert (summary["matched"], summary["missing_in_new"], summary["extra_in_new"]) == (1, 1, 1)
    assert read_csv(out / "missing_in_new.csv") == [
        payment(end_to_end_id="E2E-OLD", creditor_name='Only, "Old"')
    ]
    assert read_csv(out / "extra_in_new.csv") == [payment(end_to_end_id="E2E-NEW", amount="7.00")]
    assert summary["clean"] is False


def test_reconcile_leaves_duplicated_keys_out_of_matching_on_both_sides(tmp_path: Path):
    # Given E2E-D1 twice on the old side, E2E-D2 three times on the new side (with different amounts),
    # and one ordinary payment
    old = [payment(), payment(end_to_end_id="E2E-D1"), payment(end_to_end_id="E2E-D1"),
           payment(end_to_end_id="E2E-D2", amount="1.00")]  # fmt: skip
    new = [payment(), payment(end_to_end_id="E2E-D1", amount="5.00")] + [
        payment(end_to_end_id="E2E-D2", amount=f"{i}.00") for i in range(3)
    ]

    # When reconciled
    summary, out = run(tmp_path, old, new)

    # Then both keys are reported as duplicates and take no part in matching, missing, extra or breaks
    assert (summary["duplicates_old"], summary["duplicates_new"]) == (1, 1)
    assert read_csv(out / "duplicates.csv") == [
        {"side": "new", "end_to_end_id": "E2E-D2", "occurrences": "3"},
        {"side": "old", "end_to_end_id": "E2E-D1", "occurrences": "2"},
    ]
    assert summary["matched"] == 1
    assert (summary["missing_in_new"], summary["extra_in_new"]) == (0, 0)
    assert not any(summary["breaks"].values())
    # and the control totals still count every row of each side
    assert summary["control_totals"] == {
        "old": {"EUR": {"count": 4, "sum_minor": 30100}},
        "new": {"EUR": {"count": 5, "sum_minor": 10800}},
    }
    assert summary["clean"] is False


def test_reconcile_compares_status_through_the_runbook_mapping(tmp_path: Path):
    # Given the old platform's ISO codes and the new owner's words, and a mapping between them
    rules = ReconcileRules(status_mapping={"ACSC": ("SETTLED", "BOOKED"), "RJCT": ("REJECTED",)})
    old = [
        payment(end_to_end_id=f"E{i}", status=s)
        for i, s in enumerate(["ACSC", "ACSC", "RJCT", "ACSC", "PDNG"])
    ]
    new = [payment(end_to_end_id=f"E{i}", status=s)
           for i, s in enumerate(["SETTLED", "booked", "REJECTED", "REJECTED", "PDNG"])]  # fmt: skip

    # When reconciled
    summary, out = run(tmp_path, old, new, rules)

    # Then mapped pairs (any accepted code, any case) and unmapped equal codes agree; ACSC -> REJECTED breaks
    assert summary["breaks"]["status"] == 1
    assert read_csv(out / "breaks.csv") == [
        {"end_to_end_id": "E3", "field": "status", "old_value": "ACSC", "new_value": "REJECTED"}
    ]


def test_reconcile_without_mapping_breaks_on_renamed_status(tmp_path: Path):
    # Given no mapping
    # When the new side spells a status differently
    summary, _ = run(tmp_path, [payment()], [payment(status="SETTLED")])

    # Then it is a break
    assert summary["breaks"]["status"] == 1


def test_reconcile_amount_tolerance_in_minor_units(tmp_path: Path):
    # Given a tolerance of 1 minor unit, one payment 1 cent apart and one 2 cents apart
    rules = ReconcileRules(tolerance_minor=1)
    old = [payment(end_to_end_id="E1", amount="10.00"), payment(end_to_end_id="E2", amount="10.00")]
    new = [payment(end_to_end_id="E1", amount="10.01"), payment(end_to_end_id="E2", amount="10.02")]

    # When reconciled
    summary, out = run(tmp_path, old, new, rules)

    # Then the 1-cent difference is tolerated and counted, the 2-cent one breaks
    assert summary["amount_within_tolerance"] == 1
    assert summary["breaks"]["amount"] == 1
    assert [row["end_to_end_id"] for row in read_csv(out / "breaks.csv")] == ["E2"]
    # and totals 3 cents apart over 2 payments are within 2 x 1 cent? no: they differ
    assert summary["control_totals_agree"] is False


def test_reconcile_within_tolerance_is_clean(tmp_path: Path):
    # Given a tolerance of 1 minor unit and two payments each 1 cent apart in opposite directions
    rules = ReconcileRules(tolerance_minor=1)
    old = [payment(end_to_end_id="E1", amount="10.00"), payment(end_to_end_id="E2", amount="10.00")]
    new = [payment(end_to_end_id="E1", amount="10.01"), payment(end_to_end_id="E2", amount="9.99")]

    # When reconciled
    summary, _ = run(tmp_path, old, new, rules)

    # Then no break, totals agree, the day is clean
    assert summary["amount_within_tolerance"] == 2
    assert summary["breaks"]["amount"] == 0
    assert summary["control_totals_agree"] is True
    assert summary["clean"] is True


def test_reconcile_sums_decimals_exactly(tmp_path: Path):
    # Given 0.1 and 0.2 on one side and 0.3 on the other (0.1 + 0.2 != 0.3 in binary floating point)
    old = [payment(end_to_end_id="E1", amount="0.1"), payment(end_to_end_id="E2", amount="0.2")]
    new = [payment(end_to_end_id="E1", amount="0.30"), payment(end_to_end_id="E2", amount="0.00")]

    # When reconciled
    summary, _ = run(tmp_path, old, new)

    # Then the control totals are exactly 30 minor units on both sides and agree
    assert summary["control_totals"]["old"]["EUR"]["sum_minor"] == 30
    assert summary["control_totals"]["new"]["EUR"]["sum_minor"] == 30
    assert summary["control_totals_agree"] is True
    assert summary["breaks"]["amount"] == 2


def test_reconcile_currency_without_minor_units(tmp_path: Path):
    # Given yen amounts (no minor units): whole yen agree, a fractional yen is not an amount
    old = [payment(end_to_end_id="E1", amount="1500", currency="JPY"),
           payment(end_to_end_id="E2", amount="250", currency="JPY")]  # fmt: skip
    new = [payment(end_to_end_id="E1", amount="1500", currency="JPY"),
           payment(end_to_end_id="E2", amount="250.5", currency="JPY")]  # fmt: skip

    # When reconciled
    summary, out = run(tmp_path, old, new)

    # Then 1500 yen are 1500 minor units, and the fractional amount is reported unreadable and breaks
    assert summary["control_totals"]["old"]["JPY"] == {"count": 2, "sum_minor": 1750}
    assert summary["control_totals"]["new"]["JPY"] == {"count": 2, "sum_minor": 1500}
    assert summary["invalid_amounts"] == {"old": 0, "new": 1}
    assert read_csv(out / "breaks.csv")[0]["new_value"] == "250.5"
    assert summary["clean"] is False


def test_reconcile_eighteen_digit_amounts(tmp_path: Path):
    # Given amounts with 18 integer digits, one pair differing by one cent
    big = "999999999999999999.99"
    old = [
        payment(end_to_end_id="E1", amount=big),
        payment(end_to_end_id="E2", amount="123456789012345678.10"),
    ]
    new = [
        payment(end_to_end_id="E1", amount=big),
        payment(end_to_end_id="E2", amount="123456789012345678.11"),
    ]

    # When reconciled
    summary, out = run(tmp_path, old, new)

    # Then the one-cent break is seen and the sums are exact to the cent
    assert summary["breaks"]["amount"] == 1
    assert read_csv(out / "breaks.csv")[0]["end_to_end_id"] == "E2"
    assert summary["control_totals"]["old"]["EUR"]["sum_minor"] == 99999999999999999999 + 12345678901234567810
    assert summary["control_totals"]["new"]["EUR"]["sum_minor"] == 99999999999999999999 + 12345678901234567811


@pytest.mark.parametrize("text", ["12.345", "1e3", "", "abc", "12,50"])
def test_reconcile_refuses_unreadable_amounts(tmp_path: Path, text: str):
    # Given an amount that is not a EUR decimal (too many decimals, exponent, empty, words, comma)
    # When reconciled against the same text
    summary, _ = run(tmp_path, [payment(amount=text)], [payment(amount=text)])

    # Then it counts as unreadable on both sides and the day is not clean
    assert summary["invalid_amounts"] == {"old": 1, "new": 1}
    assert summary["clean"] is False


def test_reconcile_empty_and_header_only_files(tmp_path: Path):
    # Given an empty old file and a header-only new file
    old = tmp_path / "old.csv"
    old.write_text("")
    new = write_csv(tmp_path / "new.csv", [])

    # When reconciled
    summary = reconcile(old, new, tmp_path / "out")

    # Then nothing is matched, missing or extra, the outputs exist with headers, and the day is clean
    assert (summary["rows_old"], summary["rows_new"], summary["matched"]) == (0, 0, 0)
    assert summary["control_totals"] == {"old": {}, "new": {}}
    assert summary["clean"] is True
    assert (tmp_path / "out" / "breaks.csv").read_text().strip() == "end_to_end_id,field,old_value,new_value"


def test_reconcile_header_only_new_side_misses_everything(tmp_path: Path):
    # Given payments on the old side and a header-only acknowledgement file
    summary, out = run(tmp_path, [payment(), payment(end_to_end_id="E2E-2")], [])

    # Then every payment is missing in new
    assert summary["missing_in_new"] == 2
    assert len(read_csv(out / "missing_in_new.csv")) == 2


def test_reconcile_rows_without_key_are_counted_not_matched(tmp_path: Path):
    # Given a row with an empty key on the old side
    summary, _ = run(tmp_path, [payment(), payment(end_to_end_id="  ")], [payment()])

    # Then it is counted apart, is in the control totals, and the day is not clean
    assert summary["without_key"] == {"old": 1, "new": 0}
    assert summary["matched"] == 1
    assert summary["control_totals"]["old"]["EUR"]["count"] == 2
    assert summary["clean"] is False


def test_reconcile_summary_has_the_documented_keys(tmp_path: Path):
    # Given any reconciliation
    summary, out = run(tmp_path, [payment()], [payment()])

    # Then summary.json carries the keys the workflow and the status page read, and summary.txt says clean
    written = json.loads((out / "summary.json").read_text())
    assert written == summary
    for key in ("matched", "breaks", "missing_in_new", "extra_in_new", "duplicates_old", "duplicates_new",
                "control_totals", "clean"):  # fmt: skip
        assert key in written
    assert written["control_totals"]["old"] == {"EUR": {"count": 1, "sum_minor": 10000}}
    text = (out / "summary.txt").read_text()
    assert text.startswith("Reconciliation CLEAN: 1 payments matched")
    assert "EUR: old 1 for 100.00, new 1 for 100.00" in text
    assert all(len(line) <= 100 for line in text.splitlines())


def test_reconcile_summary_text_shows_first_breaks(tmp_path: Path):
    # Given several breaks
    old = [payment(end_to_end_id=f"E{i}") for i in range(8)]
    new = [payment(end_to_end_id=f"E{i}", creditor_name=f"Other {i}") for i in range(8)]

    # When reconciled
    _, out = run(tmp_path, old, new)

    # Then summary.txt names the field counts and shows only the first five breaks
    text = (out / "summary.txt").read_text()
    assert "Reconciliation NOT CLEAN" in text
    assert "Field breaks: creditor_name 8." in text
    assert "  E0 creditor_name: Bob Martin -> Other 0" in text
    assert "E5 creditor_name" not in text


def test_reconcile_reads_jsonl_and_never_parses_a_json_number(tmp_path: Path):
    # Given JSON Lines where one amount is a string and one a JSON number (already a float once parsed)
    old = write_csv(
        tmp_path / "old.csv", [payment(end_to_end_id="E1"), payment(end_to_end_id="E2", amount="0.30")]
    )
    lines = [
        json.dumps(payment(end_to_end_id="E1")),
        json.dumps({**payment(end_to_end_id="E2"), "amount": 0.3}),
    ]
    new = tmp_path / "new.jsonl"
    new.write_text("\n".join(lines) + "\n")

    # When reconciled
    summary = reconcile(old, new, tmp_path / "out")

    # Then the string amount matches and the number is reported as an unreadable amount
    assert summary["matched"] == 2
    assert summary["invalid_amounts"] == {"old": 0, "new": 1}
    assert summary["control_totals"]["new"]["EUR"] == {"count": 2, "sum_minor": 10000}


def test_reconcile_reads_parquet_with_decimal_amounts(tmp_path: Path):
    # Given the new side as Parquet with a DECIMAL amount column and a DATE column
    old = write_csv(tmp_path / "old.csv", [payment()])
    new = tmp_path / "new.parquet"
    write_csv(tmp_path / "tmp.csv", [payment()])
    duckdb.connect().execute(
        f"COPY (SELECT * REPLACE (CAST(amount AS DECIMAL(20,2)) AS amount, "
        f"CAST(requested_execution_date AS DATE) AS requested_execution_date) "
        f"FROM read_csv('{tmp_path / 'tmp.csv'}', all_varchar=true)) TO '{new}' (FORMAT parquet)"
    )

    # When reconciled
    summary = reconcile(old, new, tmp_path / "out")

    # Then it matches the CSV side exactly
    assert summary["clean"] is True


def test_reconcile_refuses_floating_point_parquet_amounts(tmp_path: Path):
    # Given a Parquet file whose amount column is a DOUBLE
    new = tmp_path / "new.parquet"
    write_csv(tmp_path / "tmp.csv", [payment()])
    duckdb.connect().execute(
        f"COPY (SELECT * REPLACE (CAST(amount AS DOUBLE) AS amount) "
        f"FROM read_csv('{tmp_path / 'tmp.csv'}', all_varchar=true)) TO '{new}' (FORMAT parquet)"
    )

    # Then reconciling refuses it, naming the column
    with pytest.raises(ReconcileInputError, match="amount is a floating-point column"):
        reconcile(tmp_path / "tmp.csv", new, tmp_path / "out")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("old.txt", "x", "unknown format"),
        ("old.csv", "end_to_end_id,amount\nE1,1.00\n", "missing column"),
    ],
)
def test_reconcile_refuses_unusable_inputs(tmp_path: Path, name: str, content: str, message: str):
    # Given an input of unknown format or without the canonical columns
    bad = tmp_path / name
    bad.write_text(content)

    # Then reconciling refuses it with a message naming the file
    with pytest.raises(ReconcileInputError, match=message):
        reconcile(bad, write_csv(tmp_path / "new.csv", []), tmp_path / "out")


def test_reconcile_file_larger_than_the_memory_limit(tmp_path: Path):
    # Given two files of 240,000 payments each (~37 MB each) and an engine limited to 32 MB of memory
    rows = 240_000
    generate = (
        "SELECT printf('E2E%09d', i) AS end_to_end_id, printf('%d.%02d', i % 5000, i % 100) AS amount, "
        "'EUR' AS currency, printf('DE8937040044%010d', i) AS debtor_iban, 'COBADEFFXXX' AS debtor_bic, "
        "printf('Debtor %d', i) AS debtor_name, printf('FR76300060000%014d', i) AS creditor_iban, "
        "'AGRIFRPPXXX' AS creditor_bic, printf('Creditor %d', i) AS creditor_name, "
        "'2026-11-29' AS requested_execution_date, {status} AS status, "
        "printf('INV-%d', i) AS remittance_info "
        f"FROM range({rows}) t(i) WHERE {{where}}"
    )
    old, new = tmp_path / "old.csv", tmp_path / "new.csv"
    con = duckdb.connect()
    plain = generate.format(status="'ACSC'", where="true")
    con.execute(f"COPY ({plain}) TO '{old}' (HEADER)")
    changed = generate.format(
        status="CASE WHEN i % 1000 = 0 THEN 'RJCT' ELSE 'ACSC' END", where="i % 500 <> 1"
    )
    con.execute(f"COPY ({changed}) TO '{new}' (HEADER)")
    limit_bytes = 32 * 1024 * 1024
    assert old.stat().st_size > limit_bytes

    # When reconciled with that limit (spilling to a temp directory of its own)
    limits = EngineLimits(memory_limit="32MB", threads=1, temp_directory=tmp_path, csv_buffer_bytes=2 << 20)
    summary = reconcile(old, new, tmp_path / "out", limits=limits)

    # Then it completes with the exact counts
    assert summary["missing_in_new"] == rows // 500
    assert summary["breaks"]["status"] == rows // 1000
    assert summary["matched"] == rows - rows // 500
    assert summary["control_totals"]["old"]["EUR"]["count"] == rows


def test_reconcile_partitioned_equals_unpartitioned(tmp_path: Path):
    # Given two sides with every kind of finding: breaks, missing, extra, duplicates both sides,
    # unkeyed rows, unreadable amounts, several currencies, and awkward text (commas, quotes, newlines)
    rules = ReconcileRules(tolerance_minor=1, status_mapping={"ACSC": ("SETTLED",)})
    currencies = ["EUR", "JPY", "BHD"]
    old = [
        payment(
            end_to_end_id=f"E{i:03d}",
            currency=currencies[i % 3],
            amount=f"{i}" if i % 3 == 1 else f"{i}.{i % 100:02d}",
            creditor_name=f'Name, "{i}"\nline two',
        )
        for i in range(60)
    ]
    new = [dict(row, status="SETTLED") for row in old]
    new[3]["creditor_name"] = "someone else"
    new[4]["amount"] = "9.99"
    new[5]["requested_execution_date"] = "2026-12-01"
    del new[10]
    new.append(payment(end_to_end_id="X1"))
    old.append(dict(old[20]))  # duplicate on the old side
    new.extend([dict(new[30]), dict(new[30])])  # duplicate on the new side
    old.append(payment(end_to_end_id=""))
    new[40]["amount"] = "abc"

    # When reconciled in one piece, in 3 hash partitions and in 12 (some of those empty)
    old_file, new_file = write_csv(tmp_path / "old.csv", old), write_csv(tmp_path / "new.csv", new)
    whole = reconcile(old_file, new_file, tmp_path / "whole", rules)
    split = reconcile_partitioned(old_file, new_file, tmp_path / "split", 3, rules)
    many = reconcile_partitioned(old_file, new_file, tmp_path / "many", 12, rules)

    # Then the summaries and every output file are identical, byte for byte
    assert whole["missing_in_new"] == 1 and whole["extra_in_new"] == 1
    assert (whole["duplicates_old"], whole["duplicates_new"]) == (1, 1)
    assert whole["payments_with_breaks"] >= 3
    assert split == whole and many == whole
    for name in ("summary.json", "summary.txt", "breaks.csv", "missing_in_new.csv", "extra_in_new.csv",
                 "duplicates.csv"):  # fmt: skip
        assert (tmp_path / "split" / name).read_bytes() == (tmp_path / "whole" / name).read_bytes(), name
        assert (tmp_path / "many" / name).read_bytes() == (tmp_path / "whole" / name).read_bytes(), name
