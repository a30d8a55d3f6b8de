"""A cycle's wait for its two files: a Step Functions callback resumed by the S3 events of the files.

`Wait for the day's files` is a `lambda:invoke.waitForTaskToken` task. Its function (`register`):
1. stores the task token server-side in the approvals table (`filewait#<execution>` / `cycle#<nn>`),
   with one index record per awaited object (`file#s3://bucket/key`), as the approval gates keep theirs:
   never in logs, Slack or evidence;
2. then looks for both objects (HeadObject): a file that arrived before the wait was registered has
   sent its event to nobody, so it is found here. Any object created after step 1 has its event find
   the wait, any object created before step 2 is seen by it: no arrival is missed.

Each S3 "Object Created" event (EventBridge -> the arrival function) marks its file arrived. The one
writer that flips the wait from `waiting` to `resumed` (a conditional write) calls SendTaskSuccess;
repeated or concurrent events resume it once. The task's TimeoutSeconds is the runbook's deadline.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from tasks import contracts as c

WAITING, RESUMED = "waiting", "resumed"
RECORD_DAYS = 30  # wait records expire from the table (the cycle's evidence keeps what matters)

Files = dict[str, tuple[str, str]]  # side (old | ack) -> (bucket, key)


def s3_uri(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


def wait_key(execution: str, index: int) -> dict[str, str]:
    return {"pk": c.FILE_WAIT_PK_PREFIX + execution, "sk": f"{c.FILE_WAIT_SK_PREFIX}{index:02d}"}


def _index_key(bucket: str, key: str, execution: str, index: int) -> dict[str, str]:
    return {
        "pk": c.FILE_INDEX_PK_PREFIX + s3_uri(bucket, key),
        "sk": f"{c.FILE_INDEX_SK_PREFIX}{execution}#{index:02d}",
    }


def _conditional_failed(exc: ClientError) -> bool:
    return exc.response["Error"]["Code"] == "ConditionalCheckFailedException"


class FileWaits:
    """The wait records in the approvals table (a boto3 Table resource) and the Step Functions client
    that resumes a wait."""

    def __init__(self, table: Any, sfn: Any) -> None:
        self.table, self.sfn = table, sfn

    def register(self, execution: str, index: int, files: Files, token: str, now: datetime) -> None:
        """Store the wait (a retry of the state refreshes the token of a wait still waiting)."""
        expires = int((now + timedelta(days=RECORD_DAYS)).timestamp())
        item = {
            **wait_key(execution, index),
            "task_token": token,
            "wait_state": WAITING,
            "files": {side: s3_uri(*where) for side, where in files.items()},
            "arrived": {},
            "registered_at": now.astimezone(UTC).isoformat(timespec="seconds"),
            "expires_ttl": expires,
        }
        try:
            self.table.put_item(
                Item=item, ConditionExpression=Attr("pk").not_exists() | Attr("wait_state").eq(WAITING)
            )
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise
            return  # already resumed: nothing to wait for
        for side, (bucket, key) in files.items():
            self.table.put_item(
                Item={**_index_key(bucket, key, execution, index), "side": side, "expires_ttl": expires}
            )

    def arrived(self, execution: str, index: int, sides: list[str]) -> bool:
        """Mark `sides` arrived; resume the wait if every file is there now. True if this call resumed it."""
        key = wait_key(execution, index)
        record: dict[str, Any] | None = None
        for side in sides:
            try:
                record = self.table.update_item(
                    Key=key,
                    UpdateExpression="SET arrived.#side = :yes",
                    ConditionExpression=Attr("pk").exists(),
                    ExpressionAttributeNames={"#side": side},
                    ExpressionAttributeValues={":yes": True},
                    ReturnValues="ALL_NEW",
                )["Attributes"]
            except ClientError as exc:
                if _conditional_failed(exc):
                    return False  # no such wait (an index record outlived it)
                raise
        if record is None or set(record["files"]) - set(record.get("arrived") or {}):
            return False
        return self._resume(key, record)

    def _resume(self, key: dict[str, str], record: dict[str, Any]) -> bool:
        try:
            self.table.update_item(
                Key=key,
                UpdateExpression="SET wait_state = :resumed",
                ConditionExpression=Attr("wait_state").eq(WAITING),
                ExpressionAttributeValues={":resumed": RESUMED},
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                return False  # another event resumed it first
            raise
        output = {"ready": True, "missing": [], "files": dict(record["files"])}
        try:
            self.sfn.send_task_success(taskToken=record["task_token"], output=_json(output))
        except ClientError as exc:  # the wait timed out (FilesMissing) or the execution ended
            if exc.response["Error"]["Code"] not in ("TaskTimedOut", "TaskDoesNotExist", "InvalidToken"):
                raise
            return False
        return True

    def waits_for(self, bucket: str, key: str) -> list[tuple[str, int, str]]:
        """(execution, cycle index, side) of every wait that awaits this object."""
        found = self.table.query(
            KeyConditionExpression=Key("pk").eq(c.FILE_INDEX_PK_PREFIX + s3_uri(bucket, key)),
            ConsistentRead=True,
        ).get("Items", [])
        waits = []
        for item in found:
            execution, index = str(item["sk"]).removeprefix(c.FILE_INDEX_SK_PREFIX).rsplit("#", 1)
            waits.append((execution, int(index), str(item["side"])))
        return waits


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def register_and_look(
    waits: FileWaits,
    execution: str,
    index: int,
    files: Files,
    token: str,
    exists: Callable[[str, str, str], bool],
    now: datetime,
) -> dict[str, Any]:
    """Register the wait, then look for files that came before it; what is there and whether it resumed."""
    waits.register(execution, index, files, token, now)
    present = [side for side, (bucket, key) in files.items() if exists(side, bucket, key)]
    resumed = waits.arrived(execution, index, present) if present else False
    return {"present": present, "resumed_now": resumed}


def on_object_created(waits: FileWaits, event: dict[str, Any]) -> list[dict[str, Any]]:
    """An S3 "Object Created" event (EventBridge): resume every wait this object completes."""
    detail = event.get("detail") or {}
    bucket = (detail.get("bucket") or {}).get("name")
    key = (detail.get("object") or {}).get("key")
    if not bucket or not key:
        return []
    outcome = []
    for execution, index, side in waits.waits_for(bucket, key):
        resumed = waits.arrived(execution, index, [side])
        outcome.append({"cycle": index, "side": side, "resumed": resumed})
    return outcome
