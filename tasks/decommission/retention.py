"""Retention before anything is disabled: final database snapshots and S3 data of retained classes.

Databases: the db-snapshot-copy steps are reused as they are (imported, not copied): a snapshot of
the source database, a copy under the shared key into the retention region, a share with the
retention account, and a copy there under the retention account's own key. The retention account's
copy is kept (tagged with its retain-until date); the two intermediate snapshots are removed.

S3: every current object of a bucket whose data class is retained is copied into the rule's
retention bucket (Object Lock on) under `<wave>/<source account>/<bucket>/<key>`, each object with
mode COMPLIANCE and retain-until = start of the copy + the rule's period, and its SHA-256 checksum
sent along so S3 checks it on arrival.

Both run in rounds (`advance`): each call moves every copy as far as it can and says how long to
wait before the next round, so the definition stays small. Each database keeps its own poll schedule
(the db wave's capped backoff, `due_in`): a round polls only the databases that are due, plus those
due within half of their own wait (so databases of different sizes share rounds instead of each
adding its own), and a poll counts the time that really passed since the last one, so a database
polled with another's round is neither counted as having waited longer nor given up too early.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from tasks.common.errors import TaskFailed, VerificationFailed
from tasks.db_snapshot_copy import rds, steps
from tasks.db_snapshot_copy.naming import STAGE_SHARED, STAGE_SOURCE, STAGE_TARGET, Run
from tasks.decommission.estate import Reach
from tasks.decommission.resources import GIB
from tasks.decommission.spec import RDS_CLUSTER, RDS_DB, S3_BUCKET, retain_until

OBJECTS_PER_ROUND = 200
MAX_OBJECT_BYTES = 512 * 1024**2  # read into the function's memory; larger objects need S3 Batch Operations
RETAIN_UNTIL_TAG = "wavectl:retain-until"
STATUS_DONE, STATUS_IN_PROGRESS = "done", "in-progress"
MIN_ROUND_SECONDS = 5
# a database whose next poll is due within this fraction of its own wait is polled with the round due now
COALESCE_FRACTION = 0.5


def plan(spec: dict[str, Any], items: list[dict[str, Any]], now: datetime | None = None) -> dict[str, Any]:
    """The copies the inventory needs: one per database, one per bucket of a retained data class."""
    now = now or datetime.now(UTC)
    rules = spec.get("retention") or {}
    databases, buckets = [], []
    for item in items:
        rule = rules.get(item.get("data_class") or "")
        if rule is None or not rule.get("retain", True):
            continue
        until = retain_until(now, rule["period"]).isoformat()
        if item["type"] in (RDS_DB, RDS_CLUSTER):
            databases.append(_database(item, rule, until))
        elif item["type"] == S3_BUCKET:
            buckets.append(_bucket(spec, item, rule, until))
    return {
        "databases": databases,
        "buckets": buckets,
        "status": STATUS_IN_PROGRESS,
        "wait_seconds": 0,
        "round": 0,
    }


def _database(item: dict[str, Any], rule: dict[str, Any], until: str) -> dict[str, Any]:
    return {
        "id": item["name"],
        "arn": item["id"],
        "type": "cluster" if item["type"] == RDS_CLUSTER else "instance",
        "region": item["region"],
        "target_region": rule["region"],
        "data_class": item["data_class"],
        "size_gib": max(1, int((item.get("size_bytes") or GIB) / GIB)),
        "rule": rule,
        "retain_until": until,
        "step": None,
        "job": None,
    }


def _bucket(spec: dict[str, Any], item: dict[str, Any], rule: dict[str, Any], until: str) -> dict[str, Any]:
    prefix = f"{spec.get('wave', 'decommission')}/{item['id'].split(':::')[-1]}/"
    return {
        "bucket": item["name"],
        "arn": item["id"],
        "region": item["region"],
        "data_class": item["data_class"],
        "rule": rule,
        "retention_bucket": rule["bucket"],
        "prefix": prefix,
        "retain_until": until,
        "start_after": "",
        "copied": 0,
        "skipped": 0,
        "bytes": 0,
        "done": False,
    }


def advance(reach: Reach, run: Run, state: dict[str, Any]) -> dict[str, Any]:
    """One round: every copy that is due goes as far as it can; `status` done when all are, else
    `wait_seconds` until the next database is due (the minimum while S3 copies are still going)."""
    slept = int(state.get("wait_seconds", 0))  # what the Wait before this round waited
    databases = [_advance_database(reach, run, db, slept) for db in state["databases"]]
    buckets = [_advance_bucket(reach, b) for b in state["buckets"]]
    done = all(db["step"] == "done" for db in databases) and all(b["done"] for b in buckets)
    return {
        **state,
        "databases": databases,
        "buckets": buckets,
        "round": int(state.get("round", 0)) + 1,
        "status": STATUS_DONE if done else STATUS_IN_PROGRESS,
        "wait_seconds": 0 if done else _next_round(databases, buckets),
    }


def _next_round(databases: list[dict[str, Any]], buckets: list[dict[str, Any]]) -> int:
    if not all(b["done"] for b in buckets):
        return MIN_ROUND_SECONDS
    due = [int(db["due_in"]) for db in databases if db["step"] != "done"]
    return max(MIN_ROUND_SECONDS, min(due))


# ----------------------------------------------------------------------------- databases


def _step_db(db: dict[str, Any]) -> dict[str, Any]:
    """The `db` the db-snapshot-copy steps expect."""
    return {
        key: db[key]
        for key in ("id", "type", "region", "target_region", "size_gib", "shared_key_arn", "target_key_arn")
    }


def _advance_database(reach: Reach, run: Run, db: dict[str, Any], slept: int) -> dict[str, Any]:
    db = dict(db)
    if db["step"] == "done":
        return db
    estate = reach.retention_estate(db["rule"])
    if db["step"] is None:
        db.update(_keys(reach, db))
        db["job"], db["step"] = (
            steps.start_source_snapshot(estate, run, _step_db(db)),
            steps.STEP_SOURCE_SNAPSHOT,
        )
    elif not db["job"]["ready"]:
        due_in = int(db.get("due_in", 0)) - slept
        if due_in > COALESCE_FRACTION * db["job"]["wait_seconds"]:
            return {**db, "due_in": due_in}
        # polled now, `due_in` early (or late when negative): count the time that really passed
        polled = {**db["job"], "wait_seconds": max(0, db["job"]["wait_seconds"] - due_in)}
        db["job"] = steps.poll(estate, polled)
    while db["job"]["ready"]:
        if db["step"] == steps.STEP_SOURCE_SNAPSHOT:
            db["job"], db["step"] = steps.start_shared_copy(estate, run, _step_db(db)), steps.STEP_SHARED_COPY
        elif db["step"] == steps.STEP_SHARED_COPY:
            shared = steps.share(estate, run, _step_db(db))
            db["job"] = steps.start_target_copy(estate, run, _step_db(db), shared["snapshot_arn"])
            db["step"] = steps.STEP_TARGET_COPY
        else:
            _finish_database(reach, estate, run, db)
            return {**db, "step": "done", "due_in": 0}
    return {**db, "due_in": db["job"]["wait_seconds"]}


def _keys(reach: Reach, db: dict[str, Any]) -> dict[str, str]:
    rule, region = db["rule"], db["target_region"]
    shared = rds.describe_key(reach.source("kms", region), rule["shared_kms_key"])
    target = rds.describe_key(reach.retention(rule, "kms", region), rule["kms_key"])
    if shared is None or target is None:
        missing = rule["shared_kms_key"] if shared is None else rule["kms_key"]
        raise TaskFailed(f"retention of {db['id']}: KMS key {missing} not found in {region}")
    return {"shared_key_arn": shared["Arn"], "target_key_arn": target["Arn"]}


def _finish_database(reach: Reach, estate: Any, run: Run, db: dict[str, Any]) -> None:
    """Tag the retained copy with its retain-until date; remove the two intermediate snapshots."""
    api = rds.SnapshotApi(db["type"])
    client = estate.target("rds", db["target_region"])
    retained = api.describe(client, run.snapshot_name(db["id"], STAGE_TARGET))
    if retained is None:
        raise TaskFailed(f"retention copy of {db['id']} disappeared")
    client.add_tags_to_resource(
        ResourceName=retained[api.arn_key], Tags=[{"Key": RETAIN_UNTIL_TAG, "Value": db["retain_until"]}]
    )
    db["snapshot"] = {
        "name": retained[api.id_key],
        "arn": retained[api.arn_key],
        "account": db["rule"]["account"],
    }
    for region, stage in ((db["region"], STAGE_SOURCE), (db["target_region"], STAGE_SHARED)):
        source = estate.source("rds", region)
        name = run.snapshot_name(db["id"], stage)
        found = api.describe(source, name)
        if found is None or not run.owns(found.get("TagList")):
            continue
        if db["rule"]["account"] in api.shared_with(source, name):
            api.set_shared(source, name, db["rule"]["account"], shared=False)
        api.delete(source, name)


# ----------------------------------------------------------------------------- S3


def sha256_b64(body: bytes) -> str:
    return base64.b64encode(hashlib.sha256(body).digest()).decode()


def _advance_bucket(reach: Reach, bucket: dict[str, Any]) -> dict[str, Any]:
    bucket = dict(bucket)
    if bucket["done"]:
        return bucket
    source = reach.source("s3", bucket["region"])
    retention = reach.retention(bucket["rule"], "s3")
    listed = source.list_objects_v2(
        Bucket=bucket["bucket"], StartAfter=bucket["start_after"], MaxKeys=OBJECTS_PER_ROUND
    )
    for obj in listed.get("Contents", []):
        copied = copy_object(source, retention, bucket, obj)
        bucket["copied" if copied else "skipped"] += 1
        bucket["bytes"] += int(obj["Size"])
        bucket["start_after"] = obj["Key"]
    bucket["done"] = not listed.get("IsTruncated")
    return bucket


def copy_object(source: Any, retention: Any, bucket: dict[str, Any], obj: dict[str, Any]) -> bool:
    """Copy one object under Object Lock; False when this execution's copy is already there."""
    if int(obj["Size"]) > MAX_OBJECT_BYTES:
        raise TaskFailed(
            f"s3://{bucket['bucket']}/{obj['Key']} is {obj['Size']} bytes, over the "
            f"{MAX_OBJECT_BYTES} bytes a task copies; copy it with S3 Batch Operations"
        )
    body = source.get_object(Bucket=bucket["bucket"], Key=obj["Key"])["Body"].read()
    checksum = sha256_b64(body)
    key = bucket["prefix"] + obj["Key"]
    existing = head(retention, bucket["retention_bucket"], key)
    if existing is not None and existing.get("ChecksumSHA256") == checksum:
        return False
    put_retained(retention, bucket, key, body, checksum)
    return True


def put_retained(retention: Any, bucket: dict[str, Any], key: str, body: bytes, checksum: str) -> None:
    retention.put_object(
        Bucket=bucket["retention_bucket"],
        Key=key,
        Body=body,
        ChecksumAlgorithm="SHA256",
        ChecksumSHA256=checksum,
        ObjectLockMode=bucket["rule"].get("mode", "COMPLIANCE"),
        ObjectLockRetainUntilDate=datetime.fromisoformat(bucket["retain_until"]),
        Metadata={"wavectl-source": f"s3://{bucket['bucket']}/{key[len(bucket['prefix']) :]}"},
    )


def head(s3: Any, bucket: str, key: str) -> dict[str, Any] | None:
    try:
        return s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    except ClientError as error:
        if error.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
            return None
        raise


# ----------------------------------------------------------------------------- verification


def verify(reach: Reach, run: Run, state: dict[str, Any]) -> dict[str, Any]:
    """Check every copy before anything is disabled; VerificationFailed naming every mismatch."""
    problems: list[str] = []
    databases = [_verify_database(reach, run, db, problems) for db in state["databases"]]
    buckets = [_verify_bucket(reach, b, problems) for b in state["buckets"]]
    if problems:
        raise VerificationFailed(
            f"{len(problems)} retention copy problem(s); nothing was disabled or deleted:\n- "
            + "\n- ".join(problems)
        )
    return {"databases": databases, "buckets": buckets, "summary": summary(databases, buckets)}


def _verify_database(reach: Reach, run: Run, db: dict[str, Any], problems: list[str]) -> dict[str, Any]:
    api = rds.SnapshotApi(db["type"])
    client = reach.retention(db["rule"], "rds", db["target_region"])
    name = run.snapshot_name(db["id"], STAGE_TARGET)
    found = api.describe(client, name) or {}
    where = f"account {db['rule']['account']} {db['target_region']}"
    if not found:
        problems.append(f"{db['id']}: retention snapshot {name} not found in {where}")
    elif found.get("Status") != "available":
        problems.append(f"{db['id']}: retention snapshot {name} is {found.get('Status')!r}, not available")
    elif (
        not (found.get("Encrypted") or found.get("StorageEncrypted"))
        or found.get("KmsKeyId") != db["target_key_arn"]
    ):
        problems.append(
            f"{db['id']}: retention snapshot {name} is encrypted with {found.get('KmsKeyId')}, "
            f"not the retention key {db['target_key_arn']}"
        )
    return {
        "database": db["id"],
        "type": db["type"],
        "snapshot": name,
        "account": db["rule"]["account"],
        "region": db["target_region"],
        "status": found.get("Status"),
        "kms_key": found.get("KmsKeyId"),
        "retain_until": db["retain_until"],
        "data_class": db["data_class"],
    }


def _verify_bucket(reach: Reach, bucket: dict[str, Any], problems: list[str]) -> dict[str, Any]:
    source = reach.source("s3", bucket["region"])
    retention = reach.retention(bucket["rule"], "s3")
    count = size = 0
    mismatches: list[str] = []
    for page in source.get_paginator("list_objects_v2").paginate(Bucket=bucket["bucket"]):
        for obj in page.get("Contents", []):
            count, size = count + 1, size + int(obj["Size"])
            mismatches += _check_object(source, retention, bucket, obj)
    copies = [
        o
        for page in retention.get_paginator("list_objects_v2").paginate(
            Bucket=bucket["retention_bucket"], Prefix=bucket["prefix"]
        )
        for o in page.get("Contents", [])
    ]
    copied_size = sum(int(o["Size"]) for o in copies)
    if len(copies) != count or copied_size != size:
        mismatches.append(
            f"{len(copies)} object(s), {copied_size} bytes in the retention bucket; "
            f"the source has {count}, {size} bytes"
        )
    problems += [f"s3://{bucket['bucket']}: {m}" for m in mismatches]
    return {
        "bucket": bucket["bucket"],
        "retention_bucket": bucket["retention_bucket"],
        "prefix": bucket["prefix"],
        "account": bucket["rule"]["account"],
        "region": bucket["rule"]["region"],
        "objects": count,
        "bytes": size,
        "retain_until": bucket["retain_until"],
        "mode": bucket["rule"].get("mode", "COMPLIANCE"),
        "data_class": bucket["data_class"],
        "ok": not mismatches,
    }


def _check_object(source: Any, retention: Any, bucket: dict[str, Any], obj: dict[str, Any]) -> list[str]:
    key = bucket["prefix"] + obj["Key"]
    copy = head(retention, bucket["retention_bucket"], key)
    if copy is None:
        return [f"{obj['Key']} has no retention copy"]
    expected = sha256_b64(source.get_object(Bucket=bucket["bucket"], Key=obj["Key"])["Body"].read())
    found = []
    if copy.get("ChecksumSHA256") != expected:
        found.append(
            f"{obj['Key']}: checksum {copy.get('ChecksumSHA256')} of the copy is not the source's {expected}"
        )
    if int(copy["ContentLength"]) != int(obj["Size"]):
        found.append(f"{obj['Key']}: copy has {copy['ContentLength']} bytes, the source {obj['Size']}")
    until = copy.get("ObjectLockRetainUntilDate")
    if (
        copy.get("ObjectLockMode") != bucket["rule"].get("mode", "COMPLIANCE")
        or until is None
        or (until < datetime.fromisoformat(bucket["retain_until"]).replace(microsecond=0))
    ):
        found.append(
            f"{obj['Key']}: copy is locked {copy.get('ObjectLockMode')} until {until}, "
            f"not {bucket['rule'].get('mode', 'COMPLIANCE')} until {bucket['retain_until']}"
        )
    return found


def summary(databases: list[dict[str, Any]], buckets: list[dict[str, Any]]) -> str:
    parts = [
        f"{d['database']}: snapshot {d['snapshot']} in {d['account']} {d['region']} until "
        f"{d['retain_until'][:10]}"
        for d in databases
    ]
    parts += [
        f"s3://{b['bucket']}: {b['objects']} object(s) in {b['retention_bucket']} locked "
        f"{b['mode']} until {b['retain_until'][:10]}"
        for b in buckets
    ]
    return "; ".join(parts) if parts else "no retained data class in scope"
