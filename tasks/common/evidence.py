"""Write-once JSON evidence records in the evidence bucket (Object Lock, SSE-KMS)."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

_ALREADY_THERE = ("PreconditionFailed", "ConditionalRequestConflict")


def put_once(s3: Any, *, bucket: str, key: str, document: dict[str, Any], kms_key: str | None) -> str:
    """Store `document` at `key` unless a record is already there (IfNoneMatch); return the key.

    A retried task therefore never overwrites the first record it wrote; Object Lock keeps every
    record immutable for the retention period either way.
    """
    extra: dict[str, Any] = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key} if kms_key else {}
    try:
        s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=json.dumps(document, indent=2, sort_keys=True, default=str).encode(),
            ContentType="application/json",
            ChecksumAlgorithm="SHA256",
            IfNoneMatch="*",
            **extra,
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in _ALREADY_THERE:
            raise
    return key
