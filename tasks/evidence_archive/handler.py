"""Lambda entry of the evidence archive: an EventBridge "Step Functions Execution Status Change"."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tasks import contracts as c
from tasks.common.aws import own_session
from tasks.common.logging import logger
from tasks.common.settings import setting
from tasks.evidence_archive.announce import announce_end
from tasks.evidence_archive.archive import Target, archive_execution

DEFAULT_RETENTION_DAYS = "2555"  # 7 years, the bucket's default retention


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    detail = event.get("detail") or {}
    if detail.get("status") not in c.ENDED_STATUSES:
        return {"archived": False, "reason": f"status {detail.get('status')} is not an end"}
    session = own_session()
    target = Target(
        bucket=setting(c.ENV_EVIDENCE_BUCKET),
        kms_key=setting(c.ENV_KMS_KEY, "") or None,
        retention_days=int(setting(c.ENV_EVIDENCE_RETENTION_DAYS, DEFAULT_RETENTION_DAYS)),
        approvals_table=setting(c.ENV_APPROVALS_TABLE),
    )
    index = archive_execution(
        session.client("stepfunctions"),
        session.client("s3"),
        session.client("dynamodb"),
        target,
        detail["executionArn"],
        setting(c.ENV_PROGRAM),
        datetime.now(UTC),
    )
    logger().info("archived", extra={"execution": detail["executionArn"], "files": len(index["files"])})
    if not index["newly_archived"]:
        return {"archived": False, "execution": index["execution_name"], "files": len(index["files"])}
    try:
        error = " ".join(x for x in (detail.get("error"), detail.get("cause")) if x) or None
        announce_end(session, index, target.approvals_table, target.bucket, error)
    except Exception as exc:  # Slack down: the archive is what matters; the thread misses its last line
        logger().warning("could not post the end to Slack", extra={"error": type(exc).__name__})
    return {"archived": True, "execution": index["execution_name"], "files": len(index["files"])}
