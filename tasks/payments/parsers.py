"""Streaming readers of payment extracts: CSV, JSON Lines and ISO 20022 pain.001.001.03 / .09.

Each reader takes a binary stream (a local file, an S3 body) and yields `RawRecord`s one at a time;
nothing holds the whole file. A file that cannot be read at all (wrong header, not UTF-8, not
well-formed XML, control totals that disagree) raises `FileUnusable` with the reason, which
quarantines the file whole. A record that cannot be read is yielded with its `problem`, so it is
counted and quarantined on its own.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import json
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from typing import IO, Any

from lxml import etree

from tasks.contracts import CANONICAL_PAYMENT_FIELDS
from tasks.payments.records import OPTIONAL_INPUT_FIELDS, RawRecord
from tasks.payments.xsd import NAMESPACES, element_checks

INPUT_FORMATS: tuple[str, ...] = ("csv", "jsonl", *NAMESPACES)
PAIN001_STATUS = "PDNG"  # a pain.001 is an initiation: its payments are pending until the bank books them
_SNIFF_BYTES = 4096
_INPUT_FIELDS = frozenset((*CANONICAL_PAYMENT_FIELDS, *OPTIONAL_INPUT_FIELDS))


class FileUnusable(Exception):
    """The file cannot be read as payments at all; the message is its quarantine reason."""


# ----------------------------------------------------------------------------- detection


class _Prefixed(io.RawIOBase):
    """`head` (already read to detect the format) followed by the rest of `stream`."""

    def __init__(self, head: bytes, stream: IO[bytes]) -> None:
        self._head = memoryview(head)
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._head:
            size = min(len(buffer), len(self._head))
            buffer[:size] = self._head[:size]
            self._head = self._head[size:]
            return size
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def open_payments(stream: IO[bytes], name: str) -> tuple[str, IO[bytes]]:
    """The input format of `stream` (named `name`) and a buffered stream that reads it from the start."""
    head = stream.read(_SNIFF_BYTES)
    return detect_format(name, head), io.BufferedReader(_Prefixed(head, stream), buffer_size=1 << 16)


def detect_format(name: str, head: bytes) -> str:
    lower = name.lower()
    start = head.lstrip(codecs.BOM_UTF8).lstrip()
    if lower.endswith(".xml") or start.startswith(b"<"):
        for version, namespace in NAMESPACES.items():
            if namespace.encode() in head:
                return version
        raise FileUnusable("XML that is not an ISO 20022 pain.001.001.03 or pain.001.001.09 document")
    if lower.endswith((".jsonl", ".ndjson")) or start.startswith(b"{"):
        return "jsonl"
    return "csv"


def read_records(stream: IO[bytes], fmt: str) -> Iterator[RawRecord]:
    if fmt == "csv":
        return read_csv(stream)
    if fmt == "jsonl":
        return read_jsonl(stream)
    return read_pain001(stream, fmt)


# ----------------------------------------------------------------------------- CSV and JSON Lines


def _text_lines(stream: IO[bytes]) -> io.TextIOWrapper:
    return io.TextIOWrapper(stream, encoding="utf-8-sig", errors="strict", newline="")


def read_csv(stream: IO[bytes]) -> Iterator[RawRecord]:
    text = _text_lines(stream)
    reader = csv.reader(text, strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise FileUnusable("empty file: no CSV header")
        header = [name.strip() for name in header]
        _check_header(header)
        width = len(header)
        for row in reader:
            if not row or row == [""]:
                continue
            location = f"line {reader.line_num}"
            if len(row) != width:
                problem = f"row has {len(row)} fields, the header has {width}"
                yield RawRecord(location, {}, problem)
                continue
            yield RawRecord(location, dict(zip(header, row, strict=True)))
    except UnicodeDecodeError as exc:
        raise FileUnusable(f"not UTF-8 text: {_decode_error(exc)} after line {reader.line_num}") from None
    except csv.Error as exc:
        raise FileUnusable(f"not a readable CSV file: {exc} (line {reader.line_num})") from None


def _check_header(header: list[str]) -> None:
    missing = [name for name in CANONICAL_PAYMENT_FIELDS if name not in header]
    unknown = [name for name in header if name not in _INPUT_FIELDS]
    repeated = sorted({name for name in header if header.count(name) > 1})
    problems = []
    if missing:
        problems.append(f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
    if unknown:
        problems.append(f"unknown column{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}")
    if repeated:
        problems.append(f"repeated column{'s' if len(repeated) > 1 else ''} {', '.join(repeated)}")
    if problems:
        raise FileUnusable("wrong CSV header: " + "; ".join(problems))


def _decode_error(exc: UnicodeDecodeError) -> str:
    return f"byte 0x{exc.object[exc.start]:02x} cannot be decoded ({exc.reason})"


def read_jsonl(stream: IO[bytes]) -> Iterator[RawRecord]:
    number = 0
    try:
        for number, line in enumerate(_text_lines(stream), start=1):
            if not line.strip():
                continue
            yield _json_record(f"line {number}", line)
    except UnicodeDecodeError as exc:
        raise FileUnusable(f"not UTF-8 text: {_decode_error(exc)} after line {number}") from None


def _json_record(location: str, line: str) -> RawRecord:
    try:
        data = json.loads(line, parse_float=Decimal, parse_int=Decimal)
    except json.JSONDecodeError as exc:
        return RawRecord(location, {}, f"not valid JSON: {exc.msg} (column {exc.colno})")
    if not isinstance(data, dict):
        return RawRecord(location, {}, "not a JSON object")
    unknown = sorted(set(data) - _INPUT_FIELDS)
    if unknown:
        return RawRecord(location, {}, f"unknown field{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}")
    fields: dict[str, str | None] = {}
    for key, value in data.items():
        if isinstance(value, Decimal):
            fields[key] = format(value, "f")
        elif value is None or isinstance(value, str):
            fields[key] = value
        else:
            return RawRecord(location, {}, f"{key} must be a string, not {type(value).__name__}")
    return RawRecord(location, fields)


# ----------------------------------------------------------------------------- pain.001


class _Pain001:
    """State of one streamed pain.001 document."""

    def __init__(self, version: str) -> None:
        self.version = version
        self.ns = {"p": NAMESPACES[version]}
        self.checks = element_checks(version)
        self.declared_count: int | None = None
        self.declared_sum: Decimal | None = None
        self.count = 0
        self.total = Decimal(0)
        self.block = 0  # PmtInf index (1-based) of the current block
        self.block_seen = 0  # block whose header fields are in `context`
        self.in_block = 0  # transaction index inside the block
        self.context: dict[str, str | None] = {}
        self.block_problem: str | None = None

    def tag(self, name: str) -> str:
        return f"{{{self.ns['p']}}}{name}"

    def text(self, element: etree._Element, path: str) -> str | None:
        return element.findtext(path, namespaces=self.ns)

    def group_header(self, header: etree._Element) -> None:
        problem = self.checks.problem(header)
        if problem:
            raise FileUnusable(f"group header GrpHdr fails the XSD: {problem.removeprefix('XSD: ')}")
        self.declared_count = int(self.text(header, "p:NbOfTxs") or "0")
        control_sum = self.text(header, "p:CtrlSum")
        self.declared_sum = Decimal(control_sum) if control_sum else None

    def block_context(self, block: etree._Element, first_transaction: etree._Element) -> None:
        """Debtor, date and agent of a PmtInf, from its children before the first transaction."""
        self.block_problem = None
        for child in block:
            if child is first_transaction:
                break
            if isinstance(child.tag, str):
                problem = self.checks.problem(child)
                if problem and self.block_problem is None:
                    self.block_problem = f"PmtInf[{self.block}] {etree.QName(child).localname}: {problem}"
        date = self.text(block, "p:ReqdExctnDt")
        if self.version == "pain.001.001.09":
            date = (
                self.text(block, "p:ReqdExctnDt/p:Dt")
                or (self.text(block, "p:ReqdExctnDt/p:DtTm") or "")[:10]
            )
        agent = (
            "p:DbtrAgt/p:FinInstnId/p:BIC"
            if self.version.endswith("03")
            else "p:DbtrAgt/p:FinInstnId/p:BICFI"
        )
        self.context = {
            "requested_execution_date": date,
            "debtor_name": self.text(block, "p:Dbtr/p:Nm"),
            "debtor_iban": self.text(block, "p:DbtrAcct/p:Id/p:IBAN"),
            "debtor_account": self.text(block, "p:DbtrAcct/p:Id/p:Othr/p:Id"),
            "debtor_bic": self.text(block, agent),
        }
        self.block_seen = self.block

    def transaction(self, tx: etree._Element) -> RawRecord:
        self.count += 1
        self.in_block += 1
        location = f"/Document/CstmrCdtTrfInitn/PmtInf[{self.block}]/CdtTrfTxInf[{self.in_block}]"
        amount = tx.find("p:Amt/p:InstdAmt", namespaces=self.ns)
        amount_text = amount.text if amount is not None else None
        self._add_to_total(amount_text)
        agent = (
            "p:CdtrAgt/p:FinInstnId/p:BIC"
            if self.version.endswith("03")
            else "p:CdtrAgt/p:FinInstnId/p:BICFI"
        )
        lines = tx.findall("p:RmtInf/p:Ustrd", namespaces=self.ns)
        remittance = " ".join(line.text.strip() for line in lines if line.text)
        fields: dict[str, str | None] = {
            **self.context,
            "end_to_end_id": self.text(tx, "p:PmtId/p:EndToEndId"),
            "amount": amount_text,
            "currency": amount.get("Ccy") if amount is not None else None,
            "creditor_name": self.text(tx, "p:Cdtr/p:Nm"),
            "creditor_iban": self.text(tx, "p:CdtrAcct/p:Id/p:IBAN"),
            "creditor_bic": self.text(tx, agent),
            "remittance_info": remittance,
            "status": PAIN001_STATUS,
        }
        problem = self.block_problem or self.checks.problem(tx)
        return RawRecord(location, fields, problem)

    def _add_to_total(self, amount_text: str | None) -> None:
        with contextlib.suppress(InvalidOperation):
            self.total += Decimal(amount_text or "0")

    def check_totals(self) -> None:
        if self.declared_count is None:
            raise FileUnusable("no group header (GrpHdr) before the payment information")
        if self.declared_count != self.count:
            raise FileUnusable(
                f"GrpHdr/NbOfTxs says {self.declared_count} transactions, the file has {self.count}"
            )
        if self.declared_sum is not None and self.declared_sum != self.total:
            raise FileUnusable(
                f"GrpHdr/CtrlSum is {self.declared_sum}, the transactions add up to {self.total}"
            )


def read_pain001(stream: IO[bytes], version: str) -> Iterator[RawRecord]:
    """Transactions of a pain.001 document, each with its payment block's debtor, date and agent."""
    state = _Pain001(version)
    events = etree.iterparse(
        stream,
        events=("start", "end"),
        tag=(state.tag("GrpHdr"), state.tag("PmtInf"), state.tag("CdtTrfTxInf")),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        remove_comments=True,
    )
    try:
        for event, element in events:
            record = _on_event(state, event, element)
            if record is not None:
                yield record
    except etree.XMLSyntaxError as exc:
        if "encoding" in exc.msg.lower() or "utf-8" in exc.msg.lower():
            raise FileUnusable(
                f"wrong encoding: the bytes are not in the encoding the XML declares ({exc.msg})"
            ) from None
        raise FileUnusable(f"not well-formed XML (truncated or damaged): {exc.msg}") from None
    state.check_totals()


def _on_event(state: _Pain001, event: str, element: etree._Element) -> RawRecord | None:
    local = etree.QName(element).localname
    if event == "start":
        if local == "PmtInf":
            state.block += 1
            state.in_block = 0
        return None
    if local == "GrpHdr":
        state.group_header(element)
        _release(element)
        return None
    if local == "PmtInf":
        _release(element)
        return None
    parent = element.getparent()
    if state.block_seen != state.block:
        state.block_context(parent, element)
    record = state.transaction(element)
    _release(element)
    return record


def _release(element: etree._Element) -> None:
    """Free a processed element and its already-processed siblings (keeps memory flat)."""
    element.clear(keep_tail=False)
    parent = element.getparent()
    if parent is not None:
        while element.getprevious() is not None:
            del parent[0]
