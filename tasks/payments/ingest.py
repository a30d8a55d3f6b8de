"""The inbound function: an S3 "Object Created" event (through EventBridge) -> validated, enriched chunks.

`handler` reads the new object as a stream and runs `tasks.payments.pipeline.process` with an S3 sink:
chunks and manifests into the outbound bucket, quarantine into the quarantine bucket, all under the
batch prefix `<key>.<12 hex digits of (bucket, key, version or ETag)>/`.

Idempotent: the batch manifest is written last and only if absent (S3 conditional write), and a
delivery whose batch manifest already exists writes nothing. A re-delivered event for the same object
version therefore produces no second output; every output key derives from the object, so even two
concurrent deliveries write the same bytes to the same keys and one manifest.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

from botocore.exceptions import ClientError

from tasks.common.aws import own_session
from tasks.common.logging import logger
from tasks.common.settings import setting
from tasks.contracts import (
    BRIDGE_MANIFEST_NAME,
    ENV_BRIDGE_OUTBOUND_BUCKET,
    ENV_BRIDGE_PIPELINE_SPEC,
    ENV_BRIDGE_QUARANTINE_BUCKET,
    ENV_KMS_KEY,
)
from tasks.payments.chunks import OUT
from tasks.payments.pipeline import PipelineSettings, process
from tasks.payments.storage import S3Sink


class AlreadyProcessed(Exception):
    """Another delivery of the same object wrote the batch manifest first."""


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    settings = PipelineSettings.from_json(setting(ENV_BRIDGE_PIPELINE_SPEC))
    s3 = own_session().client("s3")
    result = ingest(
        s3,
        object_of(event),
        settings,
        outbound=setting(ENV_BRIDGE_OUTBOUND_BUCKET),
        quarantine=setting(ENV_BRIDGE_QUARANTINE_BUCKET),
        kms_key=setting(ENV_KMS_KEY, "") or None,
    )
    # counts and names only: never a payment's fields
    logger().info("payment file ingested", extra={k: v for k, v in result.items() if k != "chunks"})
    return result


def object_of(event: dict[str, Any]) -> dict[str, Any]:
    """Bucket, key, version, ETag and event time of an EventBridge S3 "Object Created" event."""
    if event.get("source") != "aws.s3" or event.get("detail-type") != "Object Created":
        raise ValueError(f"not an S3 Object Created event: {event.get('source')} {event.get('detail-type')}")
    detail = event["detail"]
    obj = detail["object"]
    return {
        "bucket": detail["bucket"]["name"],
        "key": obj["key"],
        "version_id": obj.get("version-id"),
        "etag": obj.get("etag"),
        "size": obj.get("size"),
        "time": event.get("time"),
    }


def batch_name(source: dict[str, Any]) -> str:
    """`<key>.<digest>`: the same object version always gets the same batch, another one another batch."""
    identity = source.get("version_id") or source.get("etag") or ""
    digest = hashlib.sha256(f"{source['bucket']}\n{source['key']}\n{identity}".encode()).hexdigest()[:12]
    return f"{source['key']}.{digest}"


def chunk_stem(batch: str) -> str:
    """`<file name>.<digest>`: chunk names unique across batches (they share one remote directory)."""
    return batch.rsplit("/", 1)[-1]


def ingest(
    s3: Any,
    source: dict[str, Any],
    settings: PipelineSettings,
    *,
    outbound: str,
    quarantine: str,
    kms_key: str | None = None,
) -> dict[str, Any]:
    """Process one inbound object once; the result names the batch and its balance."""
    if source["key"].endswith("/"):
        return {"status": "ignored", "reason": "folder marker", "key": source["key"]}
    batch = batch_name(source)
    manifest_key = f"{batch}/{BRIDGE_MANIFEST_NAME}"
    result = {"batch": batch, "outbound_bucket": outbound, "manifest_key": manifest_key}
    if _exists(s3, outbound, manifest_key):
        return {**result, "status": "already-processed"}
    body, key = _open(s3, source)
    if body is None:
        return {
            **result,
            "status": "superseded",
            "reason": "the object changed since the event; its own event follows",
        }
    source = {**source, "key": key}
    sink = _ManifestOnceSink(
        s3, outbound=outbound, quarantine=quarantine, batch=batch, source=source, kms_key=kms_key
    )
    received = _event_time(source.get("time"))
    identity = {k: source.get(k) for k in ("bucket", "key", "version_id", "etag")}
    try:
        with body:
            report = process(
                body, key.rsplit("/", 1)[-1], settings, sink, received, identity, chunk_stem=chunk_stem(batch)
            )
    except AlreadyProcessed:
        return {**result, "status": "already-processed"}
    return {
        **result,
        "status": "processed",
        "records_in": report.records_in,
        "records_out": report.records_out,
        "records_quarantined": report.records_quarantined,
        "balanced": report.balanced,
        "file_quarantined": report.file_quarantined,
        "chunks": [chunk["name"] for chunk in report.chunks],
    }


class _ManifestOnceSink(S3Sink):
    """Writes the batch manifest only if no other delivery wrote it (S3 `If-None-Match: *`)."""

    def write(self, area: str, name: str, data: bytes) -> None:
        if area != OUT or name != BRIDGE_MANIFEST_NAME:
            super().write(area, name, data)
            return
        try:
            self.s3.put_object(
                Bucket=self.buckets[area],
                Key=self.key(name),
                Body=data,
                ContentType="application/json",
                IfNoneMatch="*",
                **self.encryption,
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("PreconditionFailed", "ConditionalRequestConflict"):
                raise AlreadyProcessed(self.key(name)) from None
            raise


def _exists(s3: Any, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
        return True
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
            return False
        raise


def _open(s3: Any, source: dict[str, Any]) -> tuple[Any, str]:
    """The object's streaming body (this exact version), or None if it has been replaced since the event."""
    for key in dict.fromkeys((source["key"], unquote_plus(source["key"]))):
        request: dict[str, Any] = {"Bucket": source["bucket"], "Key": key}
        if source.get("version_id"):
            request["VersionId"] = source["version_id"]
        elif source.get("etag"):
            request["IfMatch"] = f'"{source["etag"].strip(chr(34))}"'
        try:
            return s3.get_object(**request)["Body"], key
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            if code == "PreconditionFailed":
                return None, key
            if code not in ("NoSuchKey", "NoSuchVersion", "404"):
                raise
    raise FileNotFoundError(f"s3://{source['bucket']}/{source['key']} does not exist")


def _event_time(text: str | None) -> datetime:
    if not text:
        return datetime.now(UTC)
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
