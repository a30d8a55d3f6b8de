"""The wave's evidence record: what was copied where, under which keys, when, and how it verified."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from tasks.common.errors import TaskFailed
from tasks.common.evidence import put_once
from tasks.common.settings import setting
from tasks.contracts import DB_COPIES_FILE, DB_ITEMS_FILE, ENV_EVIDENCE_BUCKET, ENV_KMS_KEY
from tasks.db_snapshot_copy.naming import STAGE_SHARED, STAGE_SOURCE, STAGE_TARGET, Run


def evidence_key(run: Run, outcome: str) -> str:
    return f"waves/{run.wave}/{run.execution}/db-snapshot-copy-{outcome}.json"


def database_record(run: Run, db: dict[str, Any], verification: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "database": db["id"],
        "type": db["type"],
        "engine": db.get("engine"),
        "engine_version": db.get("engine_version"),
        "size_gib": db.get("size_gib"),
        "source": {"region": db["region"], "kms_key": db.get("source_kms_key")},
        "target": {"region": db["target_region"], "kms_key": db.get("target_key_arn")},
        "snapshots": {
            "source": run.snapshot_name(db["id"], STAGE_SOURCE),
            "shared": run.snapshot_name(db["id"], STAGE_SHARED),
            "target": run.snapshot_name(db["id"], STAGE_TARGET),
        },
        "shared_kms_key": db.get("shared_key_arn"),
        "verification": verification,
    }


def database_evidence_key(run: Run, database: str) -> str:
    return f"waves/{run.wave}/{run.execution}/databases/{database}.json"


def write_database_record(s3: Any, run: Run, event: dict[str, Any]) -> dict[str, Any]:
    """Write one database's full record (write-once) and return the small result the wave keeps.

    The record has no timestamp of its own (the object has one), so a retried task computes the
    same digest as the record already there.
    """
    db, verification = event["db"], event.get("verification") or {}
    record = {
        "type": "wavectl.db-snapshot-copy.database",
        "schema_version": 1,
        "program": run.program,
        "wave": run.wave,
        "execution": run.execution,
        **database_record(run, db, verification),
        "captured_at_snapshot": event.get("captured"),
        "last_job": event.get("job"),
    }
    key = put_once(
        s3,
        bucket=setting(ENV_EVIDENCE_BUCKET),
        key=database_evidence_key(run, db["id"]),
        document=record,
        kms_key=setting(ENV_KMS_KEY, "") or None,
    )
    return small_result(db["id"], key, record, _body(record))


def small_result(database: str, key: str, record: dict[str, Any], body: bytes) -> dict[str, Any]:
    """What the wave keeps of one database: its status, target, summary and its record's digest."""
    verification = record.get("verification") or {}
    return {
        "database": database,
        "status": "verified" if verification.get("ok") else "not verified",
        "target_arn": verification.get("target_arn"),
        "evidence_key": key,
        "evidence_sha256": hashlib.sha256(body).hexdigest(),
        "summary": verification.get("summary", ""),
    }


def _body(document: Any) -> bytes:
    """The bytes `put_once` stores for `document` (so a digest of them is the stored object's)."""
    return json.dumps(document, indent=2, sort_keys=True, default=str).encode()


# ----------------------------------------------------------------------------- the Map's items and results

MAX_LISTED = 40  # databases listed by name in the acceptance gate (Slack shows at most 50 blocks)


def items_key(run: Run) -> str:
    return f"waves/{run.wave}/{run.execution}/{DB_ITEMS_FILE}"


def write_items(s3: Any, run: Run, items: list[dict[str, Any]]) -> dict[str, Any]:
    """Preflight's Map items as one JSON list (write-once); the wave's state keeps only where they are."""
    bucket = setting(ENV_EVIDENCE_BUCKET)
    key = put_once(
        s3, bucket=bucket, key=items_key(run), document=items, kms_key=setting(ENV_KMS_KEY, "") or None
    )
    return {
        "bucket": bucket,
        "key": key,
        "sha256": hashlib.sha256(_body(items)).hexdigest(),
        "count": len(items),
    }


def _read(s3: Any, key: str) -> tuple[Any, bytes]:
    try:
        body = s3.get_object(Bucket=setting(ENV_EVIDENCE_BUCKET), Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey as missing:
        raise TaskFailed(f"evidence object {key} is missing") from missing
    return json.loads(body), body


def summarise_copies(s3: Any, run: Run, items_ref: dict[str, Any], map_run: Any) -> dict[str, Any]:
    """Every database's small result, from its own record (not from the Map's output), in the copies
    record (write-once); returns the acceptance gate's text, bounded whatever the number of databases."""
    items, body = _read(s3, items_ref["key"])
    if items_ref.get("sha256") and hashlib.sha256(body).hexdigest() != items_ref["sha256"]:
        raise TaskFailed(f"the Map's item list {items_ref['key']} is not the one preflight wrote")
    copies = []
    for item in items:
        key = database_evidence_key(run, item["id"])
        record, record_body = _read(s3, key)
        copies.append(small_result(item["id"], key, record, record_body))
    document = {
        "type": "wavectl.db-snapshot-copy.copies",
        "schema_version": 1,
        "program": run.program,
        "wave": run.wave,
        "execution": run.execution,
        "map_run": map_run,
        "copies": copies,
    }
    key = put_once(
        s3,
        bucket=setting(ENV_EVIDENCE_BUCKET),
        key=f"waves/{run.wave}/{run.execution}/{DB_COPIES_FILE}",
        document=document,
        kms_key=setting(ENV_KMS_KEY, "") or None,
    )
    not_verified = [c for c in copies if c["status"] != "verified"]
    return {
        "count": len(copies),
        "not_verified": len(not_verified),
        "text": acceptance_text(copies, key),
        "copies": {"key": key, "sha256": hashlib.sha256(_body(document)).hexdigest(), "count": len(copies)},
    }


def acceptance_text(copies: list[dict[str, Any]], key: str) -> str:
    """The acceptance gate's summary: one line per database (those not verified first), at most
    `MAX_LISTED`; the rest are counted and found in the copies record."""
    ordered = sorted(copies, key=lambda c: c["status"] == "verified")  # stable: runbook order otherwise
    listed = [c["summary"] or f"{c['database']}: {c['status']}" for c in ordered[:MAX_LISTED]]
    unlisted = ordered[MAX_LISTED:]
    unverified = sum(1 for c in unlisted if c["status"] != "verified")
    state = f"{unverified} of them not verified" if unverified else "all verified"
    rest = f" {len(unlisted)} more database(s), {state}, are in the evidence record {key}."
    rest = rest if unlisted else ""
    return (
        f"{len(copies)} database(s) restored into the target and verified: {json.dumps(listed)}.{rest} "
        "Approve to delete the intermediate snapshots and the share; reject to delete the restored databases."
    )


def build_record(run: Run, outcome: str, event: dict[str, Any]) -> dict[str, Any]:
    """The wave's record: per database its small result (the full record is under `databases/`)."""
    return {
        "type": "wavectl.db-snapshot-copy",
        "schema_version": 1,
        "program": run.program,
        "wave": run.wave,
        "execution": run.execution,
        "outcome": outcome,
        "recorded_at": datetime.now(UTC).isoformat(),
        "request": event.get("request"),
        "databases": [database_record(run, db, None) for db in event.get("databases") or []],
        "copies": event.get("copies"),
        "cleanup": event.get("cleanup"),
        "compensation": event.get("compensation"),
        "failure": event.get("outcome") if outcome.endswith("-failed") else None,
        "error": event.get("error"),
    }


def write_record(s3: Any, run: Run, record: dict[str, Any]) -> str:
    """Write once: a record already there is never overwritten; returns its key."""
    return put_once(
        s3,
        bucket=setting(ENV_EVIDENCE_BUCKET),
        key=evidence_key(run, record["outcome"]),
        document=record,
        kms_key=setting(ENV_KMS_KEY, "") or None,
    )
