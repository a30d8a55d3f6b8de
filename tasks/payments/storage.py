"""Sinks for `tasks.payments.pipeline.process`: a local folder (wavectl bridge) and S3 (the Lambda).

Both name outputs the same way inside a batch: `<batch>/part-00001.csv`, its sidecar
`<batch>/part-00001.csv.manifest.json` and `<batch>/manifest.json` in the output area;
`<batch>/records-00001.jsonl` (a reason per record) or `<batch>/file-quarantined.json` plus the
input itself in the quarantine area.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from tasks.payments.chunks import OUT


class LocalSink:
    """`out_dir/<batch>/...` for outputs, `out_dir/quarantine/<batch>/...` for quarantine."""

    def __init__(self, out_dir: Path, batch: str, source: Path) -> None:
        self.areas = {OUT: out_dir / batch, "quarantine": out_dir / "quarantine" / batch}
        self.source = source

    def path(self, area: str, name: str) -> Path:
        return self.areas[area] / name

    def write(self, area: str, name: str, data: bytes) -> None:
        path = self.path(area, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        partial.write_bytes(data)
        partial.replace(path)

    def remove(self, area: str, name: str) -> None:
        self.path(area, name).unlink(missing_ok=True)

    def keep_input(self, name: str) -> None:
        target = self.path("quarantine", name)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.source, target)

    def read(self, area: str, name: str) -> bytes | None:
        path = self.path(area, name)
        return path.read_bytes() if path.is_file() else None


class S3Sink:
    """Outputs in the outbound bucket, quarantine in the quarantine bucket, under the batch prefix.

    `s3` is a boto3 S3 client (the caller's session); `source` the input object (bucket, key, version).
    """

    def __init__(
        self,
        s3: Any,
        *,
        outbound: str,
        quarantine: str,
        batch: str,
        source: dict[str, Any],
        kms_key: str | None,
    ) -> None:
        self.s3 = s3
        self.buckets = {OUT: outbound, "quarantine": quarantine}
        self.batch = batch
        self.source = source
        self.encryption = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key} if kms_key else {}

    def key(self, name: str) -> str:
        return f"{self.batch}/{name}"

    def write(self, area: str, name: str, data: bytes) -> None:
        content_type = "application/json" if name.endswith(".json") else "text/plain; charset=utf-8"
        self.s3.put_object(
            Bucket=self.buckets[area],
            Key=self.key(name),
            Body=data,
            ContentType=content_type,
            **self.encryption,
        )

    def remove(self, area: str, name: str) -> None:
        self.s3.delete_object(Bucket=self.buckets[area], Key=self.key(name))

    def keep_input(self, name: str) -> None:
        copy_source = {"Bucket": self.source["bucket"], "Key": self.source["key"]}
        if self.source.get("version_id"):
            copy_source["VersionId"] = self.source["version_id"]
        self.s3.copy_object(
            Bucket=self.buckets["quarantine"], Key=self.key(name), CopySource=copy_source, **self.encryption
        )

    def read(self, area: str, name: str) -> bytes | None:
        try:
            return self.s3.get_object(Bucket=self.buckets[area], Key=self.key(name))["Body"].read()
        except self.s3.exceptions.NoSuchKey:
            return None
