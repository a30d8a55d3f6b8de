"""One payment record: validation into the canonical record, and enrichment with the bridge's metadata.

A parser yields `RawRecord`s (the fields as read, where they were read, or why they could not be read);
`validate` turns one into a `Payment` (canonical fields, amount in minor units) or a reason it is refused.
Amounts are parsed with `decimal.Decimal` and counted in integer minor units: never a float.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException

from tasks.contracts import BRIDGE_METADATA_FIELDS, CANONICAL_PAYMENT_FIELDS
from tasks.payments.currencies import minor_units

# Fields a canonical record cannot go without (BICs are optional in SEPA: the IBAN routes the payment).
REQUIRED_FIELDS: tuple[str, ...] = (
    "end_to_end_id",
    "amount",
    "currency",
    "debtor_iban",
    "debtor_name",
    "creditor_iban",
    "creditor_name",
    "requested_execution_date",
    "status",
)
# Old-platform extracts may carry the debtor's old account id; enrichment maps it to a ledger code.
OPTIONAL_INPUT_FIELDS: tuple[str, ...] = ("debtor_account",)
OUTPUT_FIELDS: tuple[str, ...] = (*CANONICAL_PAYMENT_FIELDS, *BRIDGE_METADATA_FIELDS)

_AMOUNT = re.compile(r"^[0-9]{1,18}(\.[0-9]{1,18})?$")
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_MAX_TEXT = {"end_to_end_id": 35, "debtor_name": 140, "creditor_name": 140, "remittance_info": 140}
_MAX_DIGITS = 18  # ISO 20022 ActiveOrHistoricCurrencyAndAmount: totalDigits 18
# A requested execution date further than this from the day the file was received is a typo, not a payment.
DATE_WINDOW = timedelta(days=400)


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One record as read: `location` is "line 12" or an XPath; `problem` set when it could not be read."""

    location: str
    fields: dict[str, str | None]
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class Payment:
    """A valid canonical record: `fields` are CANONICAL_PAYMENT_FIELDS as strings, `minor` the amount."""

    fields: dict[str, str]
    minor: int
    debtor_account: str | None = None


@dataclass(slots=True)
class ValidationContext:
    """Per-file validation state: the received day and the end-to-end ids seen so far."""

    received_on: date
    seen_ids: SeenIds = field(default_factory=lambda: SeenIds())


class SeenIds:
    """End-to-end ids already in this file, with where each was first seen.

    Kept in a private temporary SQLite database (stdlib), so memory stays flat however many records a
    file has: SQLite keeps a few MiB of pages in memory and spills the rest to a temporary file.
    """

    def __init__(self) -> None:
        import sqlite3  # only the pipeline needs it

        self._db = sqlite3.connect("", isolation_level=None)
        self._db.execute("PRAGMA cache_size=-4096")
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute("CREATE TABLE seen (id TEXT PRIMARY KEY, location TEXT) WITHOUT ROWID")
        self._db.execute("BEGIN")
        self._integrity_error = sqlite3.IntegrityError

    def first_location(self, end_to_end_id: str, location: str) -> str | None:
        """Record `end_to_end_id` at `location`; return where it was seen before, if it was."""
        try:
            self._db.execute("INSERT INTO seen VALUES (?, ?)", (end_to_end_id, location))
            return None
        except self._integrity_error:
            row = self._db.execute("SELECT location FROM seen WHERE id = ?", (end_to_end_id,)).fetchone()
            return row[0]

    def close(self) -> None:
        self._db.close()


class Refused(ValueError):
    """A record that cannot become a canonical payment; the message is its quarantine reason."""


def validate(record: RawRecord, context: ValidationContext) -> Payment:
    """The canonical payment of `record`, or `Refused` with the first reason it cannot be one."""
    if record.problem is not None:
        raise Refused(record.problem)
    raw = record.fields
    values = {name: (raw.get(name) or "").strip() for name in CANONICAL_PAYMENT_FIELDS}
    missing = [name for name in REQUIRED_FIELDS if not values[name]]
    if missing:
        raise Refused(f"missing required field{'s' if len(missing) > 1 else ''}: {', '.join(missing)}")
    for name, limit in _MAX_TEXT.items():
        if len(values[name]) > limit:
            raise Refused(f"{name} is longer than {limit} characters")
    currency = values["currency"]
    units = minor_units(currency)
    if units is None:
        raise Refused(f"currency {currency!r} is not an ISO 4217 payment currency")
    amount_text, minor = parse_amount(values["amount"], currency, units)
    values["amount"] = amount_text
    for name in ("debtor_iban", "creditor_iban"):
        values[name] = _checked_iban(name, values[name])
    for name in ("debtor_bic", "creditor_bic"):
        if values[name]:
            values[name] = _checked_bic(name, values[name])
    _check_date(values["requested_execution_date"], context.received_on)
    first = context.seen_ids.first_location(values["end_to_end_id"], record.location)
    if first is not None:
        raise Refused(f"duplicate end_to_end_id {values['end_to_end_id']!r} (first at {first})")
    account = _text(record.fields.get("debtor_account")) or None
    return Payment(fields=values, minor=minor, debtor_account=account)


def _text(value: str | None) -> str:
    return value.strip() if isinstance(value, str) else ""


def parse_amount(text: str, currency: str, units: int) -> tuple[str, int]:
    """("1234.50", 123450) for ("1234.5", "EUR", 2); `Refused` unless positive with <= `units` decimals."""
    if not _AMOUNT.match(text):
        raise Refused(f"amount {text!r} is not a plain positive decimal (digits, optional '.' and decimals)")
    try:
        amount = Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid decimals
        raise Refused(f"amount {text!r} is not a decimal") from None
    if amount <= 0:
        raise Refused(f"amount {text!r} must be greater than zero")
    scaled = amount.scaleb(units)
    if scaled != scaled.to_integral_value():
        places = "no decimals" if units == 0 else f"{units} decimals"
        raise Refused(f"amount {text!r} has more precision than {currency} allows ({places})")
    minor = int(scaled)
    if len(str(minor)) > _MAX_DIGITS:
        raise Refused(f"amount {text!r} has more than {_MAX_DIGITS} digits")
    return format_minor(minor, units), minor


def format_minor(minor: int, units: int) -> str:
    """123450, 2 -> "1234.50"; 1500, 0 -> "1500"."""
    if units == 0:
        return str(minor)
    whole, fraction = divmod(minor, 10**units)
    return f"{whole}.{fraction:0{units}d}"


@lru_cache(maxsize=65536)
def _iban(text: str) -> tuple[str | None, str | None]:
    try:
        return IBAN(text).compact, None
    except SchwiftyException as exc:
        return None, str(exc)


def _checked_iban(name: str, text: str) -> str:
    compact, error = _iban(text)
    if compact is None:
        raise Refused(f"{name} {text!r} is not a valid IBAN: {error}")
    return compact


@lru_cache(maxsize=16384)
def _bic(text: str) -> tuple[str | None, str | None]:
    try:
        return str(BIC(text)), None
    except SchwiftyException as exc:
        return None, str(exc)


def _checked_bic(name: str, text: str) -> str:
    bic, error = _bic(text)
    if bic is None:
        raise Refused(f"{name} {text!r} is not a valid BIC: {error}")
    return bic


def _check_date(text: str, received_on: date) -> None:
    if not _DATE.match(text):
        raise Refused(f"requested_execution_date {text!r} is not a date in YYYY-MM-DD form")
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise Refused(f"requested_execution_date {text!r} is not a calendar date") from None
    if abs(day - received_on) > DATE_WINDOW:
        raise Refused(
            f"requested_execution_date {text} is more than {DATE_WINDOW.days} days from the day "
            f"the file was received ({received_on})"
        )


@dataclass(frozen=True)
class Enricher:
    """The runbook's mappings and the bridge's metadata, applied to every valid payment."""

    accounts: dict[str, str]
    statuses: dict[str, str]
    source_file: str
    received_at: str
    bridge_version: str

    def enrich(self, payment: Payment, location: str) -> dict[str, str]:
        """The output row of `payment`, or `Refused` when a mapping the runbook requires has no entry."""
        row = dict(payment.fields)
        ledger = ""
        if self.accounts:
            account = payment.debtor_account or row["debtor_iban"]
            ledger = self.accounts.get(account) or self.accounts.get(row["debtor_iban"], "")
            if not ledger:
                raise Refused(f"no ledger code for debtor account {account!r} (enrichment.accounts)")
        if self.statuses:
            status = self.statuses.get(row["status"])
            if status is None:
                raise Refused(f"status {row['status']!r} has no new status code (enrichment.statuses)")
            row["status"] = status
        row["ledger_code"] = ledger
        row["source_file"] = self.source_file
        row["source_location"] = location
        row["received_at"] = self.received_at
        row["bridge_version"] = self.bridge_version
        return row
