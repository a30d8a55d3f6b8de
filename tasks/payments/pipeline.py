"""The one code path of the payment bridge: one input file -> canonical chunks, quarantine, manifest.

`process(stream, name, settings, sink, ...)` reads the file as a stream, validates and enriches each
record, writes output chunks and quarantined records through `sink`, and finally the batch manifest
(`tasks.contracts.BRIDGE_MANIFEST_NAME`, written last: its presence means the batch is complete).
The inbound Lambda gives it an S3 sink, `wavectl bridge` a local folder. No environment, no AWS client.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

from tasks.contracts import BRIDGE_MANIFEST_NAME
from tasks.payments import BRIDGE_VERSION
from tasks.payments.chunks import OUT, QUARANTINE, ChunkWriter, Sink, add_sums, dumps
from tasks.payments.parsers import INPUT_FORMATS, FileUnusable, open_payments, read_records
from tasks.payments.records import Enricher, Refused, ValidationContext, validate

QUARANTINE_RECORD_FIELDS = ("location", "reason", "record")
FILE_REASON_NAME = "file-quarantined.json"
PROGRESS_EVERY = 10_000


@dataclass(frozen=True)
class PipelineSettings:
    """What the runbook's `payment_bridge:` section tells the pipeline (see wavectl.bridge_model)."""

    input_formats: tuple[str, ...] = INPUT_FORMATS
    output_format: str = "csv"
    chunk_size: int = 5000
    accounts: dict[str, str] = field(default_factory=dict)
    statuses: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_json(cls, text: str) -> PipelineSettings:
        data = json.loads(text)
        return cls(
            input_formats=tuple(data["input_formats"]),
            output_format=data["output_format"],
            chunk_size=int(data["chunk_size"]),
            accounts=dict(data.get("accounts", {})),
            statuses=dict(data.get("statuses", {})),
        )

    def to_json(self) -> str:
        return json.dumps(
            {
                "input_formats": list(self.input_formats),
                "output_format": self.output_format,
                "chunk_size": self.chunk_size,
                "accounts": self.accounts,
                "statuses": self.statuses,
            },
            separators=(",", ":"),
            sort_keys=True,
        )


@dataclass
class FileReport:
    """What happened to one input file: the batch manifest's content."""

    input: dict[str, Any]
    received_at: str
    output_format: str
    format: str | None = None
    records_in: int = 0
    records_out: int = 0
    records_quarantined: int = 0
    chunks: list[dict[str, Any]] = field(default_factory=list)
    sum_minor_by_currency: dict[str, int] = field(default_factory=dict)
    quarantine_files: list[str] = field(default_factory=list)
    file_quarantined: str | None = None

    @property
    def balanced(self) -> bool:
        return self.records_in == self.records_out + self.records_quarantined

    def as_json(self) -> dict[str, Any]:
        return {
            "bridge_version": BRIDGE_VERSION,
            "input": self.input,
            "format": self.format,
            "received_at": self.received_at,
            "records_in": self.records_in,
            "records_out": self.records_out,
            "records_quarantined": self.records_quarantined,
            "balanced": self.balanced,
            "sum_minor_by_currency": self.sum_minor_by_currency,
            "output_format": self.output_format,
            "chunks": self.chunks,
            "quarantine": {"file": self.file_quarantined, "records": self.quarantine_files},
        }


def process(
    stream: IO[bytes],
    name: str,
    settings: PipelineSettings,
    sink: Sink,
    received_at: datetime,
    source: dict[str, Any] | None = None,
    progress: Callable[[int], None] | None = None,
    chunk_stem: str = "part",
) -> FileReport:
    """Validate, enrich and chunk one input file; quarantine what cannot go on; write the manifest.

    `name` is the file's name (its format is detected from it and its first bytes), `received_at` when
    it arrived (an aware datetime: metadata of every record, and the reference for date checks),
    `source` what identifies the input in the manifest (bucket/key/version, or a local path);
    `progress(records_read)` is called every PROGRESS_EVERY records; output chunks are named
    `<chunk_stem>-00001.<fmt>` (the Lambda passes a stem unique per batch: every chunk of every batch
    lands in the same remote SFTP directory, so chunk file names must never repeat).
    """
    received = received_at.isoformat().replace("+00:00", "Z")
    report = FileReport(
        input=source or {"name": name}, received_at=received, output_format=settings.output_format
    )
    out = ChunkWriter(sink, OUT, chunk_stem, settings.output_format, settings.chunk_size)
    rejected = ChunkWriter(
        sink, QUARANTINE, "records", "jsonl", settings.chunk_size, QUARANTINE_RECORD_FIELDS
    )
    rejected.sidecars = False
    enricher = Enricher(settings.accounts, settings.statuses, name, received, BRIDGE_VERSION)
    context = ValidationContext(received_on=received_at.date())
    try:
        report.format, records = open_payments(stream, name)
        if report.format not in settings.input_formats:
            raise FileUnusable(
                f"format {report.format} is not accepted (input_formats: {', '.join(settings.input_formats)})"
            )
        for record in read_records(records, report.format):
            report.records_in += 1
            if progress is not None and report.records_in % PROGRESS_EVERY == 0:
                progress(report.records_in)
            try:
                payment = validate(record, context)
                row = enricher.enrich(payment, record.location)
            except Refused as refused:
                rejected.add({"location": record.location, "reason": str(refused), "record": record.fields})
                continue
            out.add(row, row["currency"], payment.minor)
        out.flush()
        rejected.flush()
    except FileUnusable as unusable:
        _quarantine_whole(report, str(unusable), name, sink, out, rejected)
    finally:
        context.seen_ids.close()
    _finish(report, out, rejected)
    sink.write(OUT, BRIDGE_MANIFEST_NAME, dumps(report.as_json()))
    return report


def _quarantine_whole(
    report: FileReport, reason: str, name: str, sink: Sink, out: ChunkWriter, rejected: ChunkWriter
) -> None:
    out.discard()
    rejected.discard()
    report.file_quarantined = reason
    kept_as = name.rsplit("/", 1)[-1]
    sink.keep_input(kept_as)
    document = {
        "input": report.input,
        "kept_as": kept_as,
        "reason": reason,
        "records_read_before_the_problem": report.records_in,
        "received_at": report.received_at,
        "bridge_version": BRIDGE_VERSION,
    }
    sink.write(QUARANTINE, FILE_REASON_NAME, dumps(document))


def _finish(report: FileReport, out: ChunkWriter, rejected: ChunkWriter) -> None:
    if report.file_quarantined is not None:
        report.records_out = 0
        report.records_quarantined = report.records_in
        return
    report.records_out = out.records
    report.records_quarantined = rejected.records
    report.chunks = [chunk.as_json() for chunk in out.chunks]
    report.sum_minor_by_currency = add_sums(out.chunks)
    report.quarantine_files = [chunk.name for chunk in rejected.chunks]
