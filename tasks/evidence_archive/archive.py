"""Build and store one execution's evidence bundle. Pure logic over the clients the caller passes.

Layout under `archive/<wave>/<execution name>/`:

    history.json        the full execution history (every event, with its data)
    definition.json     the definition that ran: version ARN, its description, the ASL text
    input.json          the execution input
    approvals.json      the approval records of the execution (never a task token)
    tasks/...           copies of the task and approval evidence records of the execution
    evidence.json       the index: every file above with its sha256 and size, written last

Every object is written once (`IfNoneMatch: *`) with an Object Lock retention date, so a second
delivery of the same event finds the bundle there and changes nothing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from tasks import contracts as c

_ALREADY_THERE = ("PreconditionFailed", "ConditionalRequestConflict")
_EVIDENCE_SOURCES = ("waves/{wave}/{name}/", "approvals/{wave}/{name}/")


@dataclass(frozen=True)
class Target:
    bucket: str
    kms_key: str | None
    retention_days: int
    approvals_table: str


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _json(document: Any) -> bytes:
    return json.dumps(document, indent=2, sort_keys=True, default=str).encode()


def bundle_prefix(wave: str, execution_name: str) -> str:
    return f"{c.ARCHIVE_PREFIX}/{wave}/{execution_name}/"


def wave_of(state_machine_arn: str, program: str) -> str:
    """`arn:...:stateMachine:<program>-<wave>[:qualifier]` -> `<wave>`."""
    name = state_machine_arn.split(":")[6]
    return name.removeprefix(f"{program}-")


def history(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000, "includeExecutionData": True}
    while True:
        page = sfn.get_execution_history(**kwargs)
        events += page.get("events", [])
        if not page.get("nextToken"):
            return events
        kwargs["nextToken"] = page["nextToken"]


def definition(sfn: Any, described: dict[str, Any]) -> dict[str, Any]:
    """The definition that ran: of its version when it ran on one, else of the state machine."""
    arn = described.get("stateMachineVersionArn") or described["stateMachineArn"]
    machine = sfn.describe_state_machine(stateMachineArn=arn)
    text = machine.get("definition", "")
    return {
        "state_machine_arn": described["stateMachineArn"],
        "version_arn": described.get("stateMachineVersionArn"),
        "alias_arn": described.get("stateMachineAliasArn"),
        "description": machine.get("description"),
        "definition_sha256": sha256(text.encode()),
        "definition": text,
    }


def approval_records(dynamodb: Any, table: str, execution_arn: str) -> list[dict[str, Any]]:
    """The approval records of the execution, projected without the task token."""
    from boto3.dynamodb.types import TypeDeserializer

    plain = TypeDeserializer()
    names = {f"#p{i}": name for i, name in enumerate(c.RECORD_ATTRIBUTES)}
    gates = dynamodb.query(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": c.EXECUTION_PK_PREFIX + execution_arn}},
        ConsistentRead=True,
    ).get("Items", [])
    records = []
    for gate in gates:
        approval_id = plain.deserialize(gate["approval_id"])
        item = dynamodb.get_item(
            TableName=table,
            Key={"pk": {"S": c.APPROVAL_PK_PREFIX + approval_id}, "sk": {"S": c.APPROVAL_SK}},
            ProjectionExpression=", ".join(names),
            ExpressionAttributeNames=names,
            ConsistentRead=True,
        ).get("Item")
        if item:
            records.append({k: plain.deserialize(v) for k, v in item.items() if k != c.TOKEN_ATTRIBUTE})
    return sorted(records, key=lambda r: str(r.get(c.APPROVAL_CREATED_AT, "")))


def task_evidence(s3: Any, bucket: str, wave: str, name: str) -> dict[str, bytes]:
    """The execution's task and approval evidence records, by their key in the bucket."""
    found: dict[str, bytes] = {}
    for pattern in _EVIDENCE_SOURCES:
        prefix = pattern.format(wave=wave, name=name)
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                found[item["Key"]] = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
    return found


class Writer:
    """Write-once puts with the retention date; records what it wrote for the index."""

    def __init__(self, s3: Any, target: Target, prefix: str, now: datetime) -> None:
        self.s3, self.target, self.prefix = s3, target, prefix
        self.retain_until = now + timedelta(days=target.retention_days)
        self.files: list[dict[str, Any]] = []

    def put(self, relative: str, data: bytes, content_type: str = "application/json") -> None:
        extra: dict[str, Any] = {}
        if self.target.kms_key:
            extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self.target.kms_key}
        try:
            self.s3.put_object(
                Bucket=self.target.bucket,
                Key=self.prefix + relative,
                Body=data,
                ContentType=content_type,
                ChecksumAlgorithm="SHA256",
                IfNoneMatch="*",
                ObjectLockMode="GOVERNANCE",
                ObjectLockRetainUntilDate=self.retain_until,
                **extra,
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in _ALREADY_THERE:
                raise
        self.files.append({"path": relative, "sha256": sha256(data), "bytes": len(data)})


def archive_execution(
    sfn: Any, s3: Any, dynamodb: Any, target: Target, execution_arn: str, program: str, now: datetime
) -> dict[str, Any]:
    """Store the bundle of one ended execution; return its index (the existing one if already there),
    with `newly_archived` saying which."""
    described = sfn.describe_execution(executionArn=execution_arn)
    wave = wave_of(described["stateMachineArn"], program)
    name = described["name"]
    prefix = bundle_prefix(wave, name)
    existing = _existing_index(s3, target.bucket, prefix)
    if existing is not None:  # a second delivery of the same end: the bundle stays as it was
        return {**existing, "newly_archived": False}
    writer = Writer(s3, target, prefix, now)
    events = history(sfn, execution_arn)
    ran = definition(sfn, described)
    writer.put("history.json", _json(events))
    writer.put("definition.json", _json(ran))
    writer.put("input.json", (described.get("input") or "{}").encode())
    approvals = approval_records(dynamodb, target.approvals_table, execution_arn)
    writer.put("approvals.json", _json(approvals))
    for key, data in sorted(task_evidence(s3, target.bucket, wave, name).items()):
        writer.put(f"tasks/{key}", data)
    index = {
        "type": "wavectl.evidence-bundle",
        "schema_version": 1,
        "program": program,
        "wave": wave,
        "execution_arn": execution_arn,
        "execution_name": name,
        "status": described["status"],
        "started_at": _iso(described.get("startDate")),
        "stopped_at": _iso(described.get("stopDate")),
        "definition": {k: ran[k] for k in ("version_arn", "alias_arn", "description", "definition_sha256")},
        "approvals": [
            {k: a.get(k) for k in ("approval_id", "gate", "status", "approvers", "rejected_by", "reason")}
            for a in approvals
        ],
        "history_events": len(events),
        "retain_until": _iso(writer.retain_until),
        "archived_at": _iso(now),
        "files": writer.files,
    }
    writer.put(c.EVIDENCE_INDEX, _json(index))
    return {**index, "newly_archived": True}


def _existing_index(s3: Any, bucket: str, prefix: str) -> dict[str, Any] | None:
    try:
        body = s3.get_object(Bucket=bucket, Key=prefix + c.EVIDENCE_INDEX)["Body"].read()
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("NoSuchKey", "404"):
            return None
        raise
    return json.loads(body)


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return str(value)
