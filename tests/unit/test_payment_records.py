"""Validation of one payment record: amounts in minor units (never floats), IBAN/BIC, dates, duplicates."""

from __future__ import annotations

from datetime import date

import pytest

from tasks.contracts import CANONICAL_PAYMENT_FIELDS
from tasks.payments.currencies import SOURCE, generate_table, minor_units
from tasks.payments.records import (
    Enricher,
    RawRecord,
    Refused,
    ValidationContext,
    format_minor,
    parse_amount,
    validate,
)
from tests.conftest import ROOT

currencies_table = ROOT / "tasks" / "payments" / "currencies_table.py"
GOOD = {
    "end_to_end_id": "ACME-E2E-0001",
    "amount": "1250.00",
    "currency": "EUR",
    "debtor_iban": "DE89 3704 0044 0532 0130 00",
    "debtor_bic": "COBADEFFXXX",
    "debtor_name": "Acme Investments GmbH",
    "creditor_iban": "NL20INGB0001234567",
    "creditor_bic": "INGBNL2A",
    "creditor_name": "Van Dijk Logistiek BV",
    "requested_execution_date": "2026-11-30",
    "status": "SETTLED",
    "remittance_info": "Invoice 2026-1187",
}


def context() -> ValidationContext:
    return ValidationContext(received_on=date(2026, 11, 30))


def refusal(**changes: str | None) -> str:
    with pytest.raises(Refused) as refused:
        validate(RawRecord("line 2", {**GOOD, **changes}), context())
    return str(refused.value)


def test_validate_good_record_gives_canonical_fields_and_minor_units():
    # Given a valid record with a spaced IBAN / When validated
    payment = validate(RawRecord("line 2", dict(GOOD)), context())
    # Then every canonical field is there, the IBAN compact, the amount in cents
    assert list(payment.fields) == list(CANONICAL_PAYMENT_FIELDS)
    assert payment.fields["debtor_iban"] == "DE89370400440532013000"
    assert (payment.fields["amount"], payment.minor) == ("1250.00", 125000)


@pytest.mark.parametrize(
    ("text", "currency", "expected"),
    [
        ("1234.5", "EUR", ("1234.50", 123450)),
        ("0.01", "EUR", ("0.01", 1)),
        ("1500", "JPY", ("1500", 1500)),
        ("1500.000", "JPY", ("1500", 1500)),
        ("12.345", "KWD", ("12.345", 12345)),
        ("999999999999999.99", "EUR", ("999999999999999.99", 99999999999999999)),
        # 0.1 + 0.2 is not 0.3 in floats: here it stays exact
        ("0.30", "EUR", ("0.30", 30)),
    ],
)
def test_parse_amount_is_exact_in_the_currency_minor_units(text, currency, expected):
    assert parse_amount(text, currency, minor_units(currency)) == expected


@pytest.mark.parametrize(
    ("text", "currency", "reason"),
    [
        ("1500.5", "JPY", "more precision than JPY allows (no decimals)"),
        ("10.005", "EUR", "more precision than EUR allows (2 decimals)"),
        ("0", "EUR", "must be greater than zero"),
        ("0.00", "EUR", "must be greater than zero"),
        ("-5.00", "EUR", "not a plain positive decimal"),
        ("1e3", "EUR", "not a plain positive decimal"),
        ("1,250.00", "EUR", "not a plain positive decimal"),
        ("NaN", "EUR", "not a plain positive decimal"),
        (" 12.00", "EUR", "not a plain positive decimal"),
        ("12345678901234567.00", "EUR", "more than 18 digits"),
    ],
)
def test_parse_amount_refuses_what_is_not_a_positive_amount_of_the_currency(text, currency, reason):
    with pytest.raises(Refused, match=reason.replace("(", r"\(").replace(")", r"\)")):
        parse_amount(text, currency, minor_units(currency))


def test_format_minor_writes_the_currency_decimals():
    assert [format_minor(5, 2), format_minor(1500, 0), format_minor(1, 3)] == ["0.05", "1500", "0.001"]


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        (
            {"debtor_iban": "DE89370400440532013001"},
            "debtor_iban 'DE89370400440532013001' is not a valid IBAN",
        ),
        ({"creditor_iban": "NL20INGB000123456"}, "creditor_iban 'NL20INGB000123456' is not a valid IBAN"),
        ({"creditor_bic": "INGBXX2A"}, "creditor_bic 'INGBXX2A' is not a valid BIC"),
        ({"currency": "EUX"}, "currency 'EUX' is not an ISO 4217 payment currency"),
        ({"currency": "XAU"}, "currency 'XAU' is not an ISO 4217 payment currency"),
        ({"requested_execution_date": "30.11.2026"}, "is not a date in YYYY-MM-DD form"),
        ({"requested_execution_date": "2026-02-29"}, "is not a calendar date"),
        ({"requested_execution_date": "2029-11-30"}, "more than 400 days from the day the file was received"),
        ({"creditor_name": "  "}, "missing required field: creditor_name"),
        ({"amount": None, "status": ""}, "missing required fields: amount, status"),
        ({"end_to_end_id": "E" * 36}, "end_to_end_id is longer than 35 characters"),
    ],
)
def test_validate_refuses_a_record_with_its_reason(changes, reason):
    assert reason in refusal(**changes)


def test_validate_bics_are_optional():
    payment = validate(RawRecord("line 2", {**GOOD, "debtor_bic": "", "creditor_bic": None}), context())
    assert (payment.fields["debtor_bic"], payment.fields["creditor_bic"]) == ("", "")


def test_validate_refuses_a_duplicate_end_to_end_id_and_names_the_first():
    # Given one context (one file) and the same end-to-end id twice
    ctx = context()
    validate(RawRecord("line 2", dict(GOOD)), ctx)
    # When the second record is validated / Then it is refused, pointing at the first
    with pytest.raises(Refused, match=r"duplicate end_to_end_id 'ACME-E2E-0001' \(first at line 2\)"):
        validate(RawRecord("line 9", dict(GOOD)), ctx)


def test_validate_passes_on_a_reader_problem_as_the_reason():
    with pytest.raises(Refused, match="not valid JSON"):
        validate(RawRecord("line 3", {}, "not valid JSON: Expecting value (column 1)"), context())


def enricher(accounts: dict[str, str], statuses: dict[str, str]) -> Enricher:
    return Enricher(accounts, statuses, "day.csv", "2026-11-30T07:00:00Z", "1.0.0")


def test_enrich_maps_old_account_and_status_and_adds_bridge_metadata():
    # Given mappings from the runbook and a payment from old account ACME-0042
    payment = validate(RawRecord("line 2", {**GOOD, "debtor_account": "ACME-0042"}), context())
    row = enricher({"ACME-0042": "GLX-LEDGER-7"}, {"SETTLED": "ACSC"}).enrich(payment, "line 2")
    # Then the ledger code and new status are set, and where/when/which bridge is recorded
    assert (row["ledger_code"], row["status"]) == ("GLX-LEDGER-7", "ACSC")
    assert (row["source_file"], row["source_location"]) == ("day.csv", "line 2")
    assert (row["received_at"], row["bridge_version"]) == ("2026-11-30T07:00:00Z", "1.0.0")


def test_enrich_falls_back_to_the_debtor_iban_as_the_old_account_id():
    payment = validate(RawRecord("line 2", dict(GOOD)), context())
    row = enricher({"DE89370400440532013000": "GLX-LEDGER-3"}, {}).enrich(payment, "line 2")
    assert row["ledger_code"] == "GLX-LEDGER-3"


def test_enrich_refuses_unmapped_account_or_status_when_the_runbook_maps_them():
    payment = validate(RawRecord("line 2", {**GOOD, "debtor_account": "ACME-9999"}), context())
    with pytest.raises(Refused, match="no ledger code for debtor account 'ACME-9999'"):
        enricher({"ACME-0042": "GLX-LEDGER-7"}, {}).enrich(payment, "line 2")
    with pytest.raises(Refused, match="status 'SETTLED' has no new status code"):
        enricher({}, {"BOOKED": "ACSC"}).enrich(payment, "line 2")


def test_currency_table_is_what_pycountry_and_iso4217_say_today():
    # Given the committed table / When it is generated again from its sources / Then they are the same text
    # (regenerate: python -m tasks.payments.currencies > tasks/payments/currencies_table.py)
    assert generate_table() == currencies_table.read_text()
    assert SOURCE.startswith("pycountry ")


def test_currency_table_has_the_well_known_minor_units():
    assert (minor_units("EUR"), minor_units("JPY"), minor_units("KWD"), minor_units("CLF")) == (2, 0, 3, 4)
    assert minor_units("XAU") is None
