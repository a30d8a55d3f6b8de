"""Evidence of a decommission: inventory, usage proof, retention copies, disable/restore, deletions.

Every record is written once (Object Lock bucket, SSE-KMS) under
`waves/<wave>/<execution>/decommission-<step>.json`.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from tasks.common.aws import own_session
from tasks.common.evidence import put_once
from tasks.common.naming import Run
from tasks.common.settings import setting
from tasks.contracts import ENV_EVIDENCE_BUCKET, ENV_KMS_KEY


def key(run: Run, step: str) -> str:
    return f"waves/{run.wave}/{run.execution}/decommission-{step}.json"


def write(run: Run, step: str, body: dict[str, Any]) -> str:
    document = {
        "type": f"wavectl.decommission.{step}",
        "schema_version": 1,
        "program": run.program,
        "wave": run.wave,
        "execution": run.execution,
        "recorded_at": datetime.now(UTC).isoformat(),
        **body,
    }
    return put_once(
        own_session().client("s3"),
        bucket=setting(ENV_EVIDENCE_BUCKET),
        key=key(run, step),
        document=document,
        kms_key=setting(ENV_KMS_KEY, "") or None,
    )


def keeper(run: Run):
    """Store a disable record before the change (write-once) and return the record stored first."""
    s3 = own_session().client("s3")
    bucket = setting(ENV_EVIDENCE_BUCKET)

    def keep(record: dict[str, Any]) -> dict[str, Any]:
        digest = hashlib.sha256(record["id"].encode()).hexdigest()[:16]
        where = key(run, f"disable/{digest}")
        put_once(s3, bucket=bucket, key=where, document=record, kms_key=setting(ENV_KMS_KEY, "") or None)
        return json.loads(s3.get_object(Bucket=bucket, Key=where)["Body"].read())

    return keep
