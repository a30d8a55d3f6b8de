"""Are both files of the cycle's business day there? A poll; FilesMissing once the deadline is reached."""

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


def check_files(spec: dict[str, Any], cycle: dict[str, Any], exists: Exists) -> dict[str, Any]:
    """The cycle with `polls` counted and `files: {ready, missing, poll_seconds}`; FilesMissing naming
    every missing file once `polls x file_poll` reaches the deadline."""
    locations = file_locations(spec, cycle["day"])
    missing = [
        f"s3://{bucket}/{key}" for side, (bucket, key) in locations.items() if not exists(side, bucket, key)
    ]
    polls = int(cycle.get("polls", 0)) + 1
    waited = (polls - 1) * int(spec["file_poll"])
    if missing and waited >= int(spec["file_deadline"]):
        raise FilesMissing(
            f"business day {cycle['day']} (cycle {cycle['index']}): {', '.join(missing)} not there after "
            f"{waited // 60} min (deadline {int(spec['file_deadline']) // 60} min)"
        )
    return {
        **cycle,
        "polls": polls,
        "files": {"ready": not missing, "missing": missing, "poll_seconds": int(spec["file_poll"])},
    }
