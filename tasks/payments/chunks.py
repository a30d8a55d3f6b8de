"""Output chunks of at most N records, their manifests, and the check the transfer step repeats.

A chunk is written (and forgotten) as soon as it is full, so memory holds one chunk at most. Each
output chunk gets a sidecar manifest (`<chunk>.manifest.json`: records, sum of minor units per
currency, sha256); the input file's batch manifest lists every chunk and the balance
records in = records out + records quarantined. `verify_batch` re-reads the chunks and checks all
of it again: the transfer step calls it before anything is sent, `wavectl bridge` after writing.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from tasks.payments.currencies import minor_units
from tasks.payments.records import OUTPUT_FIELDS, Refused, parse_amount

OUT = "out"
QUARANTINE = "quarantine"


class Sink(Protocol):
    """Where one input file's outputs go: `out` (outbound) and `quarantine`, by file name."""

    def write(self, area: str, name: str, data: bytes) -> None: ...

    def remove(self, area: str, name: str) -> None: ...

    def keep_input(self, name: str) -> None:
        """Copy the input file itself into quarantine as `name` (whole-file quarantine)."""
        ...


@dataclass
class Chunk:
    name: str
    records: int
    sha256: str
    sum_minor_by_currency: dict[str, int]

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "records": self.records,
            "sha256": self.sha256,
            "sum_minor_by_currency": dict(sorted(self.sum_minor_by_currency.items())),
        }


def dumps(document: dict[str, Any]) -> bytes:
    return (json.dumps(document, indent=2, sort_keys=False, ensure_ascii=False) + "\n").encode()


@dataclass
class ChunkWriter:
    """Canonical records into `<stem>-00001.<fmt>` files of at most `chunk_size` records each."""

    sink: Sink
    area: str
    stem: str
    fmt: str
    chunk_size: int
    fields: tuple[str, ...] = OUTPUT_FIELDS
    sidecars: bool = True
    chunks: list[Chunk] = field(default_factory=list)
    _buffer: io.StringIO = field(default_factory=io.StringIO)
    _rows: int = 0
    _sums: dict[str, int] = field(default_factory=dict)
    _csv: Any = None

    def add(self, row: dict[str, Any], currency: str | None = None, minor: int | None = None) -> None:
        if self._rows == 0:
            self._start()
        if self.fmt == "csv":
            self._csv.writerow([row.get(n, "") for n in self.fields])
        else:
            self._buffer.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")
        self._rows += 1
        if currency is not None and minor is not None:
            self._sums[currency] = self._sums.get(currency, 0) + minor
        if self._rows >= self.chunk_size:
            self.flush()

    def _start(self) -> None:
        self._buffer = io.StringIO()
        self._sums = {}
        if self.fmt == "csv":
            self._csv = csv.writer(self._buffer, lineterminator="\n")
            self._csv.writerow(self.fields)

    def flush(self) -> None:
        if self._rows == 0:
            return
        data = self._buffer.getvalue().encode()
        name = f"{self.stem}-{len(self.chunks) + 1:05d}.{self.fmt}"
        chunk = Chunk(name, self._rows, hashlib.sha256(data).hexdigest(), self._sums)
        self.sink.write(self.area, name, data)
        if self.sidecars:
            self.sink.write(self.area, f"{name}.manifest.json", dumps(chunk.as_json()))
        self.chunks.append(chunk)
        self._rows = 0
        self._buffer = io.StringIO()

    @property
    def records(self) -> int:
        return sum(c.records for c in self.chunks) + self._rows

    def discard(self) -> None:
        """Remove every chunk written so far (the file is being quarantined whole)."""
        for chunk in self.chunks:
            self.sink.remove(self.area, chunk.name)
            if self.sidecars:
                self.sink.remove(self.area, f"{chunk.name}.manifest.json")
        self.chunks.clear()
        self._rows = 0
        self._buffer = io.StringIO()


def add_sums(chunks: Iterable[Chunk]) -> dict[str, int]:
    total: dict[str, int] = {}
    for chunk in chunks:
        for currency, minor in chunk.sum_minor_by_currency.items():
            total[currency] = total.get(currency, 0) + minor
    return dict(sorted(total.items()))


# ----------------------------------------------------------------------------- the check before transfer


def verify_batch(manifest: dict[str, Any], read: Callable[[str], bytes | None]) -> list[str]:
    """Problems with a batch manifest and its chunks (`read(name)` gives a chunk's bytes); [] when sound.

    Checks: records in = out + quarantined; each chunk exists, has its sha256, its record count and
    its sums per currency (recomputed from the rows); the chunks add up to records out and their sums.
    """
    problems: list[str] = []
    records_in = manifest.get("records_in")
    out, quarantined = manifest.get("records_out"), manifest.get("records_quarantined")
    if not all(isinstance(n, int) for n in (records_in, out, quarantined)):
        return ["manifest lacks records_in / records_out / records_quarantined"]
    if records_in != out + quarantined:
        problems.append(f"records in {records_in} != out {out} + quarantined {quarantined}")
    chunks = [
        Chunk(c["name"], c["records"], c["sha256"], c["sum_minor_by_currency"]) for c in manifest["chunks"]
    ]
    for chunk in chunks:
        problems += _verify_chunk(chunk, read(chunk.name), manifest.get("output_format", "csv"))
    if sum(c.records for c in chunks) != out:
        problems.append(f"chunks hold {sum(c.records for c in chunks)} records, the manifest says {out} out")
    if add_sums(chunks) != dict(sorted(manifest.get("sum_minor_by_currency", {}).items())):
        problems.append("the chunks' sums per currency do not add up to the manifest's")
    return problems


def _verify_chunk(chunk: Chunk, data: bytes | None, fmt: str) -> list[str]:
    if data is None:
        return [f"{chunk.name}: missing"]
    if hashlib.sha256(data).hexdigest() != chunk.sha256:
        return [f"{chunk.name}: sha256 differs from the manifest"]
    try:
        rows, sums = _count_rows(data, fmt)
    except (ValueError, KeyError, Refused) as exc:
        return [f"{chunk.name}: unreadable ({exc})"]
    problems = []
    if rows != chunk.records:
        problems.append(f"{chunk.name}: {rows} records, the manifest says {chunk.records}")
    if sums != dict(sorted(chunk.sum_minor_by_currency.items())):
        problems.append(f"{chunk.name}: sums per currency {sums} differ from the manifest's")
    return problems


def _count_rows(data: bytes, fmt: str) -> tuple[int, dict[str, int]]:
    text = data.decode("utf-8")
    if fmt == "csv":
        rows: Iterable[dict[str, str]] = csv.DictReader(io.StringIO(text, newline=""))
    else:
        rows = (json.loads(line) for line in text.splitlines() if line)
    count, sums = 0, {}
    for row in rows:
        count += 1
        currency = row["currency"]
        units = minor_units(currency)
        if units is None:
            raise ValueError(f"unknown currency {currency!r}")
        _, minor = parse_amount(row["amount"], currency, units)
        sums[currency] = sums.get(currency, 0) + minor
    return count, dict(sorted(sums.items()))
