"""Where a cycle's two files are, and which are missing when the wait for them times out."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from tasks.common.errors import FilesMissing
from tasks.payment_dual_run.spec import day_key

Exists = Callable[[str, str, str], bool]  # (side: old | ack, bucket, key) -> the object is there


def file_locations(spec: dict[str, Any], day: str) -> dict[str, tuple[str, str]]:
    """side -> (bucket, key) of the day's two files."""
    return {side: (spec[side]["bucket"], day_key(spec[side]["key"], day)) for side in ("old", "ack")}


def object_exists(s3: Any, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    return True


def missing_at_deadline(spec: dict[str, Any], cycle: dict[str, Any], exists: Exists) -> dict[str, Any]:
    """The wait for the day's files timed out: FilesMissing naming every file still missing. If both
    are there after all (the last one arrived as the deadline passed), the cycle goes on."""
    locations = file_locations(spec, cycle["day"])
    missing = [
        f"s3://{bucket}/{key}" for side, (bucket, key) in locations.items() if not exists(side, bucket, key)
    ]
    deadline = int(spec["file_deadline"])
    if missing:
        raise FilesMissing(
            f"business day {cycle['day']} (cycle {cycle['index']}): {', '.join(missing)} not there after "
            f"{deadline // 60} min (deadline {deadline // 60} min)"
        )
    return {"ready": True, "missing": [], "files": {s: f"s3://{b}/{k}" for s, (b, k) in locations.items()}}
