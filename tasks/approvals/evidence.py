"""Every decision as an immutable JSON record in the evidence bucket (Object Lock, SSE-KMS)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tasks.approvals import config
from tasks.common.evidence import put_once
from tasks.contracts import EVIDENCE_ATTRIBUTES

EVIDENCE_FIELDS = EVIDENCE_ATTRIBUTES  # the record fields that are evidence (tasks/contracts.py)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == int(value) else float(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | set | tuple):
        return [_jsonable(v) for v in value]
    return value


def evidence_record(record: dict[str, Any]) -> dict[str, Any]:
    body = {name: _jsonable(record[name]) for name in EVIDENCE_FIELDS if name in record}
    return {"type": "wavectl.approval-decision", "schema_version": 1, **body}


def evidence_key(record: dict[str, Any]) -> str:
    execution_name = str(record["execution"]).rsplit(":", 1)[-1]
    return (
        f"approvals/{record['wave']}/{execution_name}/{record['gate']}/"
        f"{record['approval_id']}-{record['status']}.json"
    )


def write_decision(s3: Any, record: dict[str, Any]) -> str:
    """Write the decision once (an existing record is never overwritten); its key."""
    return put_once(
        s3,
        bucket=config.evidence_bucket(),
        key=evidence_key(record),
        document=evidence_record(record),
        kms_key=config.kms_key() or None,
    )
