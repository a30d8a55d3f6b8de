"""`wavectl bridge FILE... --out DIR`: run the payment bridge's pipeline on local files.

Exactly the inbound Lambda's code path (`tasks.payments.pipeline.process`), with a local folder in
place of the outbound and quarantine buckets, so a team can test an extract before sending it.
"""

from __future__ import annotations

import json
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from wavectl.bridge_model import PaymentBridgeSettings, pipeline_spec

EXIT_OK, EXIT_UNBALANCED, EXIT_USAGE = 0, 1, 2
RESERVED_NAMES = frozenset({"manifest.json", "quarantine"})
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

HELP = """Validate, enrich and chunk payment files locally, exactly as the bridge's Lambda does.

Each FILE (CSV, JSON Lines, ISO 20022 pain.001.001.03 or .09; the format is detected from the name
and the first bytes) is read as a stream. Valid records go to DIR/<file>/part-00001.csv ... (at most
chunk_size records each, a .manifest.json beside each with its count, sums per currency and sha256);
refused records go to DIR/quarantine/<file>/records-00001.jsonl with a reason each; a file that
cannot be read at all (wrong header, wrong encoding, broken XML) is copied whole to
DIR/quarantine/<file>/ with file-quarantined.json saying why.

DIR/manifest.json lists every file: records_in, records_out, records_quarantined and
sum_minor_by_currency (records out only). Settings (formats accepted, output format, chunk size,
enrichment mappings) come from the payment_bridge section of the program in --runbooks. Each
record's received_at is the file's modification time.

Exit status: 0 when every file balanced (records in = out + quarantined; quarantined records are not
an error), 1 when a file could not be processed or balanced, 2 on unusable arguments.

Example: wavectl bridge extracts/2026-11-30.csv extracts/pain001.xml --out /tmp/bridge-check
"""


def register(app: typer.Typer) -> None:
    app.command("bridge", help=HELP)(bridge)


class UsageProblem(Exception):
    """An argument the command cannot work with; the message says which and why, in one line."""


def bridge(
    files: Annotated[list[Path], typer.Argument(help="payment files to run through the pipeline")],
    out_dir: Annotated[Path, typer.Option("--out", help="folder for outputs, quarantine and manifest.json")],
    runbooks: Annotated[
        Path | None,
        typer.Option(
            "--runbooks", help="runbooks folder whose program.yaml has payment_bridge (default: runbooks)"
        ),
    ] = None,
    replace: Annotated[
        bool,
        typer.Option("--replace", help="replace DIR if it holds the output of an earlier wavectl bridge"),
    ] = False,
) -> None:
    try:
        _check_files(files)
        settings, settings_source = _settings(runbooks)
        _prepare_out(out_dir, replace)
    except UsageProblem as problem:
        err.print(f"wavectl bridge: {problem}")
        raise typer.Exit(EXIT_USAGE) from None
    results = [_run_one(path, batch, out_dir, settings) for path, batch in _batches(files)]
    summary = {
        "bridge_version": _bridge_version(),
        "settings": {
            "from": settings_source,
            "output_format": settings.output_format,
            "chunk_size": settings.chunk_size,
        },
        "balanced": all(r["balanced"] for r in results),
        "files": results,
    }
    (out_dir / "manifest.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    unbalanced = [r["input"] for r in results if not r["balanced"]]
    if unbalanced:
        err.print(f"NOT balanced: {', '.join(unbalanced)} (see {out_dir / 'manifest.json'})")
        raise typer.Exit(EXIT_UNBALANCED)
    out.print(f"{len(results)} file(s) balanced; manifest: {out_dir / 'manifest.json'}")


def pipeline_settings(section: PaymentBridgeSettings | None) -> Any:
    """The pipeline's settings from the runbook section (the Lambda's, through the same spec), or defaults."""
    from tasks.payments.pipeline import PipelineSettings

    return PipelineSettings() if section is None else PipelineSettings.from_json(pipeline_spec(section))


def _bridge_version() -> str:
    from tasks.payments import BRIDGE_VERSION

    return BRIDGE_VERSION


def _check_files(files: list[Path]) -> None:
    for path in files:
        if not path.exists():
            raise UsageProblem(f"{path}: no such file")
        if not path.is_file():
            raise UsageProblem(f"{path}: not a file")


def _settings(runbooks: Path | None) -> tuple[Any, str]:
    from wavectl.runbook import RunbookInvalid, load_runbook

    path = runbooks or Path("runbooks")
    if runbooks is None and not (path / "program.yaml").is_file():
        return pipeline_settings(None), "defaults (no runbooks/program.yaml here)"
    if not path.exists():
        raise UsageProblem(f"--runbooks {path}: no such folder")
    try:
        runbook = load_runbook(path)
    except RunbookInvalid as exc:
        first = exc.problems[0]
        more = f" (and {len(exc.problems) - 1} more: run wavectl validate)" if len(exc.problems) > 1 else ""
        raise UsageProblem(f"runbooks are invalid: {first}{more}") from None
    section = getattr(runbook.program, "payment_bridge", None)
    if section is None:
        return pipeline_settings(None), f"defaults ({path}/program.yaml has no payment_bridge)"
    return pipeline_settings(section), f"{path}/program.yaml payment_bridge"


def _prepare_out(out_dir: Path, replace: bool) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageProblem(f"--out {out_dir}: exists and is not a folder")
    if out_dir.is_dir() and any(out_dir.iterdir()):
        if not replace:
            raise UsageProblem(
                f"--out {out_dir}: not empty (choose an empty folder, or --replace an earlier output)"
            )
        if not (out_dir / "manifest.json").is_file():
            raise UsageProblem(
                f"--out {out_dir}: not empty and not an earlier wavectl bridge output; not replaced"
            )
        shutil.rmtree(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageProblem(f"--out {out_dir}: cannot create it ({exc.strerror})") from None


def _batches(files: list[Path]) -> list[tuple[Path, str]]:
    """Each file with its batch folder name: the file name, numbered when two files share one
    (a file named like DIR's own entries, manifest.json or quarantine, gets an `input-` prefix)."""
    seen: dict[str, int] = {}
    batches = []
    for path in files:
        name = f"input-{path.name}" if path.name in RESERVED_NAMES else path.name
        count = seen.get(name, 0) + 1
        seen[name] = count
        batches.append((path, name if count == 1 else f"{name}-{count}"))
    return batches


def _run_one(path: Path, batch: str, out_dir: Path, settings: Any) -> dict[str, Any]:
    from tasks.payments.chunks import verify_batch
    from tasks.payments.pipeline import process
    from tasks.payments.storage import LocalSink

    sink = LocalSink(out_dir, batch, path)
    received = datetime.fromtimestamp(path.stat().st_mtime, UTC).replace(microsecond=0)
    result: dict[str, Any] = {"input": str(path), "batch": batch}
    try:
        with path.open("rb") as stream, _Progress(path.name) as progress:
            report = process(stream, path.name, settings, sink, received, {"path": str(path)}, progress)
    except Exception as exc:  # any failure leaves this file unbalanced; the others go on
        err.print(f"{path}: could not be processed: {type(exc).__name__}: {exc}")
        return {**result, "records_in": None, "balanced": False, "error": f"{type(exc).__name__}: {exc}"}
    problems = verify_batch(report.as_json(), lambda name: sink.read("out", name))
    result.update(_file_entry(report, out_dir, sink, problems))
    out.print(_summary_line(path.name, result))
    for problem in problems:
        err.print(f"{path}: {problem}")
    return result


def _file_entry(report: Any, out_dir: Path, sink: Any, problems: list[str]) -> dict[str, Any]:
    def relative(area: str, name: str) -> str:
        return str(sink.path(area, name).relative_to(out_dir))

    quarantine = [relative("quarantine", name) for name in report.quarantine_files]
    if report.file_quarantined is not None:
        quarantine = [relative("quarantine", "file-quarantined.json")]
    return {
        "format": report.format,
        "records_in": report.records_in,
        "records_out": report.records_out,
        "records_quarantined": report.records_quarantined,
        "sum_minor_by_currency": report.sum_minor_by_currency,
        "balanced": report.balanced and not problems,
        "file_quarantined": report.file_quarantined,
        "outputs": [relative("out", chunk["name"]) for chunk in report.chunks],
        "quarantine": quarantine,
        "problems": problems,
    }


def _summary_line(name: str, result: dict[str, Any]) -> str:
    counts = (
        f"{result['records_in']} in, {result['records_out']} out, {result['records_quarantined']} quarantined"
    )
    if result["file_quarantined"]:
        return f"{name}: quarantined whole: {result['file_quarantined']}"
    return f"{name}: {counts}"


class _Progress:
    """A live record count on a terminal; nothing when output is a pipe or a file (one line per file)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.status: Any = None

    def __enter__(self) -> _Progress:
        if sys.stdout.isatty():
            self.status = out.status(f"{self.name}: reading")
            self.status.__enter__()
        return self

    def __call__(self, records: int) -> None:
        if self.status is not None:
            self.status.update(f"{self.name}: {records:,} records read")

    def __exit__(self, *exc: object) -> None:
        if self.status is not None:
            self.status.__exit__(*exc)
