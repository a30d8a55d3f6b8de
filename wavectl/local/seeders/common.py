"""Small helpers every seeder uses: a client in one account of the embedded AWS, an encrypted bucket."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wavectl.local.engine import LocalCloud


def client(cloud: LocalCloud, account: str, service: str, region: str | None = None) -> Any:
    return cloud.account_session(account).client(service, region_name=region or cloud.region)


def bucket(s3: Any, name: str, region: str, tags: list[dict[str, str]] | None = None) -> None:
    """A bucket encrypted with SSE-KMS by default (as every Acme bucket is), optionally tagged."""
    args: dict[str, Any] = {"Bucket": name}
    if region != "us-east-1":
        args["CreateBucketConfiguration"] = {"LocationConstraint": region}
    s3.create_bucket(**args)
    s3.put_bucket_encryption(
        Bucket=name,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]
        },
    )
    if tags:
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": tags})
