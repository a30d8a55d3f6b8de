"""The wave's evidence record: what was copied where, under which keys, when, and how it verified."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from tasks.common.evidence import put_once
from tasks.common.settings import setting
from tasks.contracts import ENV_EVIDENCE_BUCKET, ENV_KMS_KEY
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
    body = json.dumps(record, indent=2, sort_keys=True, default=str).encode()
    return {
        "database": db["id"],
        "status": "verified" if verification.get("ok") else "not verified",
        "target_arn": verification.get("target_arn"),
        "evidence_key": key,
        "evidence_sha256": hashlib.sha256(body).hexdigest(),
        "summary": verification.get("summary", ""),
    }


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
