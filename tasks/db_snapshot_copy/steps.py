"""The per-database actions. Each starts one long AWS operation and returns the job to wait for.

Every action is idempotent: it first looks for what this execution would have made (by name),
accepts it when its tags say this execution made it, refuses when someone else's resource holds
the name, and only otherwise creates it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from tasks.common.backoff import (
    DEADLINE_FACTOR,
    deadline_seconds,
    expected_seconds,
    next_wait,
)
from tasks.common.errors import TaskFailed
from tasks.common.estate import Estate
from tasks.db_snapshot_copy import rds
from tasks.db_snapshot_copy.naming import STAGE_SHARED, STAGE_SOURCE, STAGE_TARGET, Run, tag_dict

STEP_SOURCE_SNAPSHOT = "source-snapshot"
STEP_SHARED_COPY = "shared-copy"
STEP_TARGET_COPY = "target-copy"
STEP_RESTORE = "restore"
ALREADY_EXISTS = {"DBSnapshotAlreadyExists", "DBClusterSnapshotAlreadyExistsFault"}


def new_job(*, step: str, db: dict[str, Any], side: str, region: str, resource: str, ident: str,
            operation: str, status: str | None) -> dict[str, Any]:  # fmt: skip
    expected = expected_seconds(operation, db["type"], float(db.get("size_gib") or 1))
    deadline = deadline_seconds(expected, size_guessed=bool(db.get("size_guessed")))
    return {
        "step": step,
        "operation": operation,
        "database": db["id"],
        "db_type": db["type"],
        "side": side,
        "region": region,
        "resource": resource,
        "id": ident,
        "status": status,
        "ready": status == "available",
        "expected_seconds": expected,
        "deadline_seconds": deadline,
        "started_at": int(time.time()),
        "waited_seconds": 0,
        "polls": 0,
        "wait_seconds": next_wait(expected, 0, 0, deadline),
    }


def _ensure_snapshot(
    api: rds.SnapshotApi, client: Any, run: Run, name: str, create: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    found = api.describe(client, name)
    if found is None:
        try:
            return create()
        except ClientError as error:
            if error.response["Error"]["Code"] not in ALREADY_EXISTS:
                raise
            found = api.describe(client, name)  # a concurrent retry made it first
    if found is None or not run.owns(found.get("TagList")):
        raise TaskFailed(f"snapshot {name} exists but was not made by execution {run.execution}")
    return found


def start_source_snapshot(estate: Estate, run: Run, db: dict[str, Any]) -> dict[str, Any]:
    """Snapshot the source database (source account, source region)."""
    api, region = rds.SnapshotApi(db["type"]), db["region"]
    client, name = estate.source("rds", region), run.snapshot_name(db["id"], STAGE_SOURCE)
    snapshot = _ensure_snapshot(
        api, client, run, name, lambda: api.create(client, db["id"], name, run.tags(db["id"], STAGE_SOURCE))
    )
    return new_job(step=STEP_SOURCE_SNAPSHOT, db=db, side="source", region=region, resource=api.db_type,
                   ident=name, operation="snapshot", status=snapshot.get("Status"))  # fmt: skip


def start_shared_copy(estate: Estate, run: Run, db: dict[str, Any]) -> dict[str, Any]:
    """Copy the source snapshot under the shared key, into the target region (source account).

    A shared encrypted snapshot can only be copied within its region by the account it is shared
    with, so the cross-region leg happens here, in the source account, before sharing.
    """
    api, region = rds.SnapshotApi(db["type"]), db["target_region"]
    cross_region = db["region"] != region
    source_name = run.snapshot_name(db["id"], STAGE_SOURCE)
    source = api.describe(estate.source("rds", db["region"]), source_name)
    if source is None:
        raise TaskFailed(f"source snapshot {source_name} is gone; cannot copy it")
    client, name = estate.source("rds", region), run.snapshot_name(db["id"], STAGE_SHARED)
    snapshot = _ensure_snapshot(api, client, run, name, lambda: api.copy(
        client, source=source[api.arn_key] if cross_region else source_name, name=name,
        kms_key=db["shared_key_arn"], tags=run.tags(db["id"], STAGE_SHARED),
        source_region=db["region"] if cross_region else None,
    ))  # fmt: skip
    operation = "copy-cross-region" if cross_region else "copy"
    return new_job(step=STEP_SHARED_COPY, db=db, side="source", region=region, resource=api.db_type,
                   ident=name, operation=operation, status=snapshot.get("Status"))  # fmt: skip


def share(estate: Estate, run: Run, db: dict[str, Any]) -> dict[str, Any]:
    """Let the target account copy the shared-key snapshot (attribute `restore`)."""
    api, region = rds.SnapshotApi(db["type"]), db["target_region"]
    client, name = estate.source("rds", region), run.snapshot_name(db["id"], STAGE_SHARED)
    snapshot = api.describe(client, name)
    if snapshot is None or not run.owns(snapshot.get("TagList")):
        raise TaskFailed(f"shared snapshot {name} is missing or not this execution's")
    if estate.target_account not in api.shared_with(client, name):
        api.set_shared(client, name, estate.target_account, shared=True)
    return {"snapshot_arn": snapshot[api.arn_key], "shared_with": estate.target_account}


def start_target_copy(estate: Estate, run: Run, db: dict[str, Any], shared_arn: str) -> dict[str, Any]:
    """In the target account, copy the shared snapshot under the target-owned key (same region)."""
    api, region = rds.SnapshotApi(db["type"]), db["target_region"]
    client, name = estate.target("rds", region), run.snapshot_name(db["id"], STAGE_TARGET)
    snapshot = _ensure_snapshot(api, client, run, name, lambda: api.copy(
        client, source=shared_arn, name=name, kms_key=db["target_key_arn"],
        tags=run.tags(db["id"], STAGE_TARGET), source_region=None,
    ))  # fmt: skip
    return new_job(step=STEP_TARGET_COPY, db=db, side="target", region=region, resource=api.db_type,
                   ident=name, operation="copy", status=snapshot.get("Status"))  # fmt: skip


# ----------------------------------------------------------------------------- restore


def restored_tags(run: Run, db: dict[str, Any]) -> list[dict[str, str]]:
    carried = [{"Key": k, "Value": v} for k, v in sorted(db.get("source_tags", {}).items())]
    return carried + run.tags(db["id"], "restored")


def start_restore(estate: Estate, run: Run, db: dict[str, Any]) -> dict[str, Any]:
    """Restore the target-key snapshot into the target (Aurora: the cluster, then its instances)."""
    region = db["target_region"]
    client = estate.target("rds", region)
    existing = rds.describe_database(client, db["type"], db["id"])
    if existing is not None and not run.owns(existing.get("TagList")):
        raise TaskFailed(f"target {db['type']} {db['id']} exists but was not made by this execution")
    if db["type"] == "instance":
        status = existing["DBInstanceStatus"] if existing else _once(_restore_instance, client, run, db)
    else:
        status = existing["Status"] if existing else _once(_restore_cluster, client, run, db)
        _add_cluster_members(client, run, db)
    return new_job(step=STEP_RESTORE, db=db, side="target", region=region, resource=db["type"],
                   ident=db["id"], operation="restore", status=status)  # fmt: skip


def _once(
    restore: Callable[[Any, Run, dict[str, Any]], str], client: Any, run: Run, db: dict[str, Any]
) -> str:
    """`restore`, where a refusal after which the database exists with this execution's tags means an
    earlier attempt made it and its response was lost (the SDK retried a read timeout): its status.
    (AWS refuses the retry with DBInstance/DBClusterAlreadyExists; moto with another code.)"""
    try:
        return restore(client, run, db)
    except ClientError:
        made = rds.describe_database(client, db["type"], db["id"])
        if made is None or not run.owns(made.get("TagList")):
            raise
        return str(made["DBInstanceStatus"] if db["type"] == "instance" else made["Status"])


def _restore_instance(client: Any, run: Run, db: dict[str, Any]) -> str:
    target = db["target"]
    kwargs: dict[str, Any] = {
        "DBInstanceIdentifier": db["id"],
        "DBSnapshotIdentifier": run.snapshot_name(db["id"], STAGE_TARGET),
        "DBSubnetGroupName": target["subnet_group"],
        "DBInstanceClass": target.get("instance_class") or db["instance_class"],
        "DeletionProtection": True,
        "CopyTagsToSnapshot": True,
        "PubliclyAccessible": False,
        "Tags": restored_tags(run, db),
    }
    if db.get("security_group_ids"):
        kwargs["VpcSecurityGroupIds"] = db["security_group_ids"]
    if target.get("parameter_group"):
        kwargs["DBParameterGroupName"] = target["parameter_group"]
    if target.get("storage_type"):
        kwargs["StorageType"] = target["storage_type"]
    return client.restore_db_instance_from_db_snapshot(**kwargs)["DBInstance"]["DBInstanceStatus"]


def _restore_cluster(client: Any, run: Run, db: dict[str, Any]) -> str:
    target = db["target"]
    kwargs: dict[str, Any] = {
        "DBClusterIdentifier": db["id"],
        "SnapshotIdentifier": run.snapshot_name(db["id"], STAGE_TARGET),
        "Engine": db["engine"],
        "EngineVersion": db["engine_version"],
        "DBSubnetGroupName": target["subnet_group"],
        "KmsKeyId": db["target_key_arn"],
        "DeletionProtection": True,
        "CopyTagsToSnapshot": True,
        "Tags": restored_tags(run, db),
    }
    if db.get("security_group_ids"):
        kwargs["VpcSecurityGroupIds"] = db["security_group_ids"]
    if target.get("parameter_group"):
        kwargs["DBClusterParameterGroupName"] = target["parameter_group"]
    return client.restore_db_cluster_from_snapshot(**kwargs)["DBCluster"]["Status"]


def _add_cluster_members(client: Any, run: Run, db: dict[str, Any]) -> None:
    """One instance per source cluster member, same name, the runbook's instance class."""
    for member in db.get("members") or [{"id": f"{db['id']}-1", "class": None}]:
        existing = rds.describe_instance(client, member["id"])
        if existing is not None:
            if not run.owns(existing.get("TagList")):
                raise TaskFailed(f"target instance {member['id']} exists but was not made by this execution")
            continue
        try:
            client.create_db_instance(
                DBInstanceIdentifier=member["id"],
                DBClusterIdentifier=db["id"],
                Engine=db["engine"],
                DBInstanceClass=db["target"].get("instance_class") or member.get("class") or "db.r6g.large",
                PubliclyAccessible=False,
                Tags=restored_tags(run, db),
            )
        except ClientError:  # made by an earlier attempt whose response was lost, or a real refusal
            made = rds.describe_instance(client, member["id"])
            if made is None or not run.owns(made.get("TagList")):
                raise


# ----------------------------------------------------------------------------- poll

# Statuses RDS does not leave on its own: the operation will not finish, so the step fails at once.
FAILED_STATES = {
    "failed",
    "error",
    "restore-error",
    "migration-failed",
    "incompatible-restore",
    "incompatible-parameters",
    "incompatible-network",
    "incompatible-option-group",
    "inaccessible-encryption-credentials",
    "storage-full",
    "deleting",
    "deleted",
}


_SNAPSHOT_NOUN = {"instance": "snapshot", "cluster": "cluster snapshot"}


def poll(estate: Estate, job: dict[str, Any]) -> dict[str, Any]:
    """One cheap Describe* of the job's resource; `ready`, or how long to wait before the next poll.

    Raises `Wavectl.TaskFailed` (caught into compensation) when RDS reports a status it does not
    leave, or when the operation is still unfinished at its deadline.
    """
    client = (estate.source if job["side"] == "source" else estate.target)("rds", job["region"])
    status = _status_of(client, job)
    waited = job["waited_seconds"] + job["wait_seconds"]
    polls = job["polls"] + 1
    # jobs started before deadlines existed carry none: derive it from the expected duration
    deadline = job.get("deadline_seconds") or deadline_seconds(job["expected_seconds"])
    elapsed = max(waited, int(time.time()) - job.get("started_at", int(time.time())))
    noun = job["db_type"] if job["step"] == STEP_RESTORE else _SNAPSHOT_NOUN[job["db_type"]]
    what = f"{job['step']} of {job['database']}: {noun} {job['id']}"
    if status in FAILED_STATES:
        raise TaskFailed(
            f"{what} is {status!r} after {_span(elapsed)} ({polls} poll(s)); RDS will not finish it"
        )
    updated = {**job, "status": status, "polls": polls, "waited_seconds": waited}
    updated["deadline_seconds"] = deadline
    updated["ready"] = status == "available"
    if not updated["ready"] and elapsed >= deadline:
        expected = job["expected_seconds"]
        basis = f"{DEADLINE_FACTOR:g}x the expected {_span(expected)}"
        if deadline > DEADLINE_FACTOR * expected:
            basis = f"the floor; expected {_span(expected)}"
        raise TaskFailed(
            f"{what} is still {status!r} after {_span(elapsed)} ({polls} poll(s)), past its deadline of "
            f"{_span(deadline)} ({basis}); the {job.get('operation', job['step'])} looks stuck, giving up "
            "so that what this execution made is deleted"
        )
    if updated["ready"]:
        updated["wait_seconds"] = 0
    else:
        wait = next_wait(job["expected_seconds"], waited, polls, deadline)
        updated["wait_seconds"] = max(1, min(wait, deadline - elapsed))  # wall clock may run ahead
    return updated


def _span(seconds: int) -> str:
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


def _status_of(client: Any, job: dict[str, Any]) -> str:
    if job["step"] == STEP_RESTORE:
        return _database_status(client, job)
    found = rds.SnapshotApi(job["db_type"]).describe(client, job["id"])
    if found is None:
        raise TaskFailed(f"{job['step']} of {job['database']}: snapshot {job['id']} disappeared")
    return found["Status"]


def _database_status(client: Any, job: dict[str, Any]) -> str:
    found = rds.describe_database(client, job["db_type"], job["id"])
    if found is None:
        raise TaskFailed(f"restore of {job['database']}: {job['db_type']} {job['id']} disappeared")
    if job["db_type"] == "instance":
        return found["DBInstanceStatus"]
    statuses = [found["Status"]] + [
        (rds.describe_instance(client, m["DBInstanceIdentifier"]) or {}).get("DBInstanceStatus", "missing")
        for m in found.get("DBClusterMembers", [])
    ]
    failed = [s for s in statuses if s in FAILED_STATES]
    if failed:
        return failed[0]
    return "available" if all(s == "available" for s in statuses) else "creating"


def tags_of(item: dict[str, Any]) -> dict[str, str]:
    return tag_dict(item.get("TagList"))
