"""Evidence of a cutover: one write-once JSON document per decision, under the execution's prefix.

waves/<wave>/<execution>/dns-cutover/<name>.json: the original TTLs, every change (id, submitted and
INSYNC times, weights before and after), the alarm states of each poll that decided something, the
rollback, the closing of the window (the removed record sets) and the final record sets.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from tasks.common.aws import own_session
from tasks.common.evidence import put_once
from tasks.common.settings import setting
from tasks.contracts import ENV_EVIDENCE_BUCKET, ENV_KMS_KEY
from tasks.dns_cutover.reach import Run


def key(run: Run, name: str) -> str:
    return f"waves/{run.wave}/{run.execution}/dns-cutover/{name}.json"


def document(run: Run, event: str, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "wavectl.dns-cutover",
        "schema_version": 1,
        "program": run.program,
        "wave": run.wave,
        "execution": run.execution,
        "event": event,
        "recorded_at": datetime.now(UTC).isoformat(),
        **body,
    }


def write(run: Run, name: str, body: dict[str, Any], s3: Any = None) -> str:
    """Write once (a retried task never overwrites the first record); returns the key."""
    return put_once(
        s3 or own_session().client("s3"),
        bucket=setting(ENV_EVIDENCE_BUCKET),
        key=key(run, name),
        document=document(run, name, body),
        kms_key=setting(ENV_KMS_KEY, "") or None,
    )


def write_and_read(run: Run, name: str, body: dict[str, Any], s3: Any = None) -> dict[str, Any]:
    """Write once, then read what is there: a retry gets the first attempt's document back."""
    s3 = s3 or own_session().client("s3")
    written = write(run, name, body, s3)
    return json.loads(s3.get_object(Bucket=setting(ENV_EVIDENCE_BUCKET), Key=written)["Body"].read())
