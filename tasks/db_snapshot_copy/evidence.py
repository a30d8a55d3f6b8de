"""The wave's evidence record: what was copied where, under which keys, when, and how it verified."""

from __future__ import annotations

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


def build_record(run: Run, outcome: str, event: dict[str, Any]) -> dict[str, Any]:
    verifications = {c["verification"]["database"]: c["verification"] for c in event.get("copies") or []
                     if c.get("verification")}  # fmt: skip
    return {
        "type": "wavectl.db-snapshot-copy",
        "schema_version": 1,
        "program": run.program,
        "wave": run.wave,
        "execution": run.execution,
        "outcome": outcome,
        "recorded_at": datetime.now(UTC).isoformat(),
        "request": event.get("request"),
        "databases": [database_record(run, db, verifications.get(db["id"])) for db in event["databases"]],
        "jobs": [c.get("job") for c in event.get("copies") or []],
        "cleanup": event.get("cleanup"),
        "compensation": event.get("compensation"),
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
