"""Transfer: send each balanced outbound chunk to the new owner through the SFTP connector, once.

Two events reach the transfer function (EventBridge rules of the bridge stack):

- **outbound batch manifest created** (S3 "Object Created", key `<batch>/manifest.json`): the
  batch is checked again before anything is sent, by the pipeline's own `verify_batch`: records
  in = records out + records quarantined, and every chunk's bytes still have the sha256, record
  count and per-currency sums of minor units the manifest states. A batch that does not check out
  raises `Wavectl.VerificationFailed` and nothing of it is sent. Each chunk is then
  claimed in the bridge table (conditional write keyed by file name): a file already claimed or
  delivered with the same name and sha256 is not sent again; the same name with other bytes is
  refused (the remote file would be silently replaced). Claimed chunks go out in
  `StartFileTransfer` calls of at most 10 files (the API's limit).
- **SFTP Connector File Send Completed / Failed** (source `aws.transfer`): the delivery record
  becomes `delivered` (with bytes and time) or `failed` (with the failure code and message); a
  failed file may be claimed again by the next manifest event for its batch (a retry).

One code path on AWS and offline: offline, the embedded AWS's connector speaks real SFTP to the
local server (wavectl.local.transfer).
"""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from tasks.common.aws import own_session
from tasks.common.errors import InvalidInput, VerificationFailed
from tasks.common.logging import logger
from tasks.common.settings import setting
from tasks.contracts import (
    BRIDGE_MANIFEST_NAME,
    ENV_BRIDGE_CONNECTOR_ID,
    ENV_BRIDGE_REMOTE_OUTBOUND,
    ENV_BRIDGE_TABLE,
)
from tasks.payments.chunks import verify_batch

SEND_COMPLETED = "SFTP Connector File Send Completed"
SEND_FAILED = "SFTP Connector File Send Failed"
OBJECT_CREATED = "Object Created"
MAX_FILES_PER_TRANSFER = 10  # StartFileTransfer accepts at most 10 SendFilePaths
CLAIMED, DELIVERED, FAILED = "sending", "delivered", "failed"
DELIVERY_SK = "delivery"


@dataclass(frozen=True)
class Chunk:
    """One output file of a batch as its manifest describes it."""

    key: str
    records: int
    sha256: str
    sum_minor_by_currency: dict[str, int]

    @property
    def name(self) -> str:
        return posixpath.basename(self.key)


@dataclass(frozen=True)
class TransferSettings:
    table: str
    connector_id: str
    remote_directory: str

    @classmethod
    def from_environment(cls) -> TransferSettings:
        return cls(
            table=setting(ENV_BRIDGE_TABLE),
            connector_id=setting(ENV_BRIDGE_CONNECTOR_ID),
            remote_directory=setting(ENV_BRIDGE_REMOTE_OUTBOUND),
        )


def delivery_key(file_name: str) -> dict[str, dict[str, str]]:
    return {"pk": {"S": f"delivery#{file_name}"}, "sk": {"S": DELIVERY_SK}}


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ----------------------------------------------------------------------------- handler


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings = TransferSettings.from_environment()
    session = own_session()
    detail_type = event.get("detail-type")
    if detail_type == OBJECT_CREATED:
        detail = event["detail"]
        return send_batch(session, settings, detail["bucket"]["name"], detail["object"]["key"])
    if detail_type in (SEND_COMPLETED, SEND_FAILED):
        return record_result(session, settings, event["detail"])
    raise InvalidInput(f"the transfer function does not handle {detail_type!r} events")


# ----------------------------------------------------------------------------- manifest check


def checked_chunks(s3: Any, bucket: str, manifest_key: str) -> list[Chunk]:
    """The chunks of a batch, after `verify_batch` (the pipeline's own check) found the batch sound."""
    batch = posixpath.dirname(manifest_key)
    manifest = json.loads(s3.get_object(Bucket=bucket, Key=manifest_key)["Body"].read())

    def read(name: str) -> bytes | None:
        try:
            return s3.get_object(Bucket=bucket, Key=f"{batch}/{name}")["Body"].read()
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("NoSuchKey", "404"):
                return None
            raise

    problems = verify_batch(manifest, read)
    if problems:
        raise VerificationFailed(
            f"{manifest_key}: nothing sent, the batch does not check out: " + "; ".join(problems)
        )
    return [
        Chunk(
            key=f"{batch}/{c['name']}",
            records=int(c["records"]),
            sha256=c["sha256"],
            sum_minor_by_currency=dict(c["sum_minor_by_currency"]),
        )
        for c in manifest["chunks"]
    ]


# ----------------------------------------------------------------------------- sending


def send_batch(session: Any, settings: TransferSettings, bucket: str, manifest_key: str) -> dict[str, Any]:
    if posixpath.basename(manifest_key) != BRIDGE_MANIFEST_NAME:
        raise InvalidInput(f"{manifest_key} is not a batch manifest ({BRIDGE_MANIFEST_NAME})")
    chunks = checked_chunks(session.client("s3"), bucket, manifest_key)  # all checked before any is sent
    dynamodb = session.client("dynamodb")
    claimed = [c for c in chunks if claim(dynamodb, settings.table, bucket, manifest_key, c)]
    transfers = []
    for start in range(0, len(claimed), MAX_FILES_PER_TRANSFER):
        group = claimed[start : start + MAX_FILES_PER_TRANSFER]
        transfer_id = session.client("transfer").start_file_transfer(
            ConnectorId=settings.connector_id,
            SendFilePaths=[f"/{bucket}/{c.key}" for c in group],
            RemoteDirectoryPath=settings.remote_directory,
        )["TransferId"]
        for chunk in group:
            note_transfer(dynamodb, settings.table, chunk, transfer_id)
        transfers.append(transfer_id)
    skipped = [c.name for c in chunks if c not in claimed]
    logger().info(
        "payment chunks handed to the connector",
        extra={"manifest": manifest_key, "sent": [c.name for c in claimed], "already_sent": skipped},
    )
    return {
        "manifest": manifest_key,
        "sent": [c.name for c in claimed],
        "skipped": skipped,
        "transfers": transfers,
    }


def claim(dynamodb: Any, table: str, bucket: str, manifest_key: str, chunk: Chunk) -> bool:
    """True if this call may send `chunk`; False if it was sent (or is being sent) with the same sha256."""
    item = {
        **delivery_key(chunk.name),
        "file": {"S": chunk.name},
        "sha256": {"S": chunk.sha256},
        "bucket": {"S": bucket},
        "key": {"S": chunk.key},
        "manifest": {"S": manifest_key},
        "records": {"N": str(chunk.records)},
        "status": {"S": CLAIMED},
        "claimed_at": {"S": now()},
    }
    try:
        dynamodb.put_item(
            TableName=table,
            Item=item,
            ConditionExpression="attribute_not_exists(pk) OR (sha256 = :sha AND #status = :failed)",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":sha": {"S": chunk.sha256}, ":failed": {"S": FAILED}},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
        return True
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        old = exc.response.get("Item") or _current(dynamodb, table, chunk.name)
    if old.get("sha256", {}).get("S") != chunk.sha256:
        raise VerificationFailed(
            f"{chunk.name} was already sent with sha256 {old.get('sha256', {}).get('S')}; this one has "
            f"{chunk.sha256}: a different file under the same name is not sent"
        )
    return False


def _current(dynamodb: Any, table: str, name: str) -> dict[str, Any]:
    return dynamodb.get_item(TableName=table, Key=delivery_key(name), ConsistentRead=True).get("Item", {})


def note_transfer(dynamodb: Any, table: str, chunk: Chunk, transfer_id: str) -> None:
    dynamodb.update_item(
        TableName=table,
        Key=delivery_key(chunk.name),
        UpdateExpression="SET transfer_id = :transfer",
        ExpressionAttributeValues={":transfer": {"S": transfer_id}},
    )


# ----------------------------------------------------------------------------- results


def record_result(session: Any, settings: TransferSettings, detail: dict[str, Any]) -> dict[str, Any]:
    if detail.get("connector-id") != settings.connector_id:
        raise InvalidInput(f"event of connector {detail.get('connector-id')}, not the bridge's")
    name = posixpath.basename(detail["file-path"])
    completed = detail.get("status-code") == "COMPLETED"
    values: dict[str, Any] = {
        ":status": {"S": DELIVERED if completed else FAILED},
        ":at": {"S": detail.get("end-timestamp") or now()},
        ":transfer": {"S": detail.get("transfer-id", "")},
    }
    expression = "SET #status = :status, finished_at = :at, transfer_id = :transfer"
    if completed:
        expression += ", bytes_sent = :bytes, remote_path = :remote"
        values[":bytes"] = {"N": str(detail.get("bytes", 0))}
        values[":remote"] = {"S": posixpath.join(detail.get("remote-directory-path", "/"), name)}
    else:
        expression += ", failure_code = :code, failure_message = :message"
        values[":code"] = {"S": detail.get("failure-code", "")}
        values[":message"] = {"S": detail.get("failure-message", "")}
    session.client("dynamodb").update_item(
        TableName=settings.table,
        Key=delivery_key(name),
        UpdateExpression=expression,
        ConditionExpression="attribute_exists(pk)",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues=values,
    )
    log = logger().info if completed else logger().error
    log(
        "payment chunk delivered" if completed else "payment chunk NOT delivered",
        extra={"file": name, "failure": detail.get("failure-message")},
    )
    return {"file": name, "status": DELIVERED if completed else FAILED}
