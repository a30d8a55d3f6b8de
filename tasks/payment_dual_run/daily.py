"""One cycle's reconciliation: fetch the day's two files, reconcile (DuckDB), store every output in the
evidence bucket, post summary.txt to Slack. Unpartitioned: one function up to its memory (see the doc)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from tasks.common.settings import setting
from tasks.contracts import ENV_EVIDENCE_BUCKET, ENV_KMS_KEY
from tasks.payment_dual_run.estate import Estate
from tasks.payment_dual_run.files import file_locations
from tasks.payments.reconcile import ReconcileRules, reconcile

OUTPUT_FILES = (
    "summary.json",
    "summary.txt",
    "breaks.csv",
    "missing_in_new.csv",
    "extra_in_new.csv",
    "duplicates.csv",
)
TOP_BREAKS = 5


def rules_of(spec: dict[str, Any]) -> ReconcileRules:
    rules = spec["rules"]
    mapping = {old: tuple(new) for old, new in (rules.get("status_mapping") or {}).items()}
    return ReconcileRules(
        key=rules["key"], tolerance_minor=int(rules["tolerance_minor"]), status_mapping=mapping
    )


def evidence_prefix(wave: str, execution: str, cycle: dict[str, Any]) -> str:
    return f"waves/{wave}/{execution}/payment-dual-run/cycle-{int(cycle['index']):02d}-{cycle['day']}/"


def reconcile_cycle(estate: Estate, cycle: dict[str, Any], prefix: str) -> dict[str, Any]:
    """Reconcile the cycle's day in this function; the verdict and where its outputs are."""
    with tempfile.TemporaryDirectory(prefix="dual-run-") as work:
        folder = Path(work)
        inputs = {}
        for side, (bucket, key) in file_locations(estate.spec, cycle["day"]).items():
            inputs[side] = folder / f"{side}{Path(key).suffix or '.csv'}"
            estate.s3_for(side).download_file(bucket, key, str(inputs[side]))
        out = folder / "out"
        summary = reconcile(inputs["old"], inputs["ack"], out, rules_of(estate.spec))
        store_outputs(estate, out, prefix)
        return outcome(cycle, summary, out, prefix)


def outcome(cycle: dict[str, Any], summary: dict[str, Any], out: Path, prefix: str) -> dict[str, Any]:
    """What the workflow keeps of a reconciled day (the same for one function or merged partitions)."""
    text = (out / "summary.txt").read_text()
    return {
        "clean": bool(summary["clean"]),
        "evidence_prefix": prefix,
        "counts": _counts(summary),
        "summary_text": text,
        "gate_summary": _gate_summary(cycle, text, _top_breaks(out / "breaks.csv")),
    }


def store_outputs(estate: Estate, out: Path, prefix: str) -> None:
    s3 = estate.client("own", "s3")
    kms_key = setting(ENV_KMS_KEY, "") or None
    extra: dict[str, Any] = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key} if kms_key else {}
    for name in OUTPUT_FILES:
        path = out / name
        if path.exists():
            s3.put_object(
                Bucket=setting(ENV_EVIDENCE_BUCKET), Key=prefix + name, Body=path.read_bytes(), **extra
            )


def _counts(summary: dict[str, Any]) -> dict[str, Any]:
    return {
        "matched": summary.get("matched"),
        "breaks": sum((summary.get("breaks") or {}).values()),
        "missing_in_new": summary.get("missing_in_new"),
        "extra_in_new": summary.get("extra_in_new"),
        "duplicates": int(summary.get("duplicates_old") or 0) + int(summary.get("duplicates_new") or 0),
        "control_totals_agree": summary.get("control_totals_agree"),
    }


def _top_breaks(breaks_csv: Path) -> list[str]:
    if not breaks_csv.exists():
        return []
    lines = breaks_csv.read_text().splitlines()[1 : TOP_BREAKS + 1]
    return [line[:150] for line in lines]


def _gate_summary(cycle: dict[str, Any], text: str, top: list[str]) -> str:
    head = (
        f"Business day {cycle['day']} (cycle {cycle['index']}, {cycle['phase']}) did not reconcile clean. "
        "Approve to accept these breaks as exceptions (the clean streak starts again); reject to stop "
        "the dual run (Wavectl.ReconciliationFailed)."
    )
    breaks = ("\nTop breaks (key, field, old, new):\n" + "\n".join(top)) if top else ""
    return f"{head}\n{text.strip()}{breaks}"[:2900]
