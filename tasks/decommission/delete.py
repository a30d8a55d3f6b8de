"""Delete only the approved inventory, in rounds until every deletion has completed.

Each round re-reads the scope and compares it with the inventory the approvers saw: a resource
that appeared in scope since (tagged later) is left untouched and reported; an approved resource
that is now protected is left too. Deletion protection is switched off only here, right before
the delete call, and only for approved resources. Deletes are idempotent (a resource already gone
or already deleting is not deleted twice); completion is polled with the db wave's capped backoff.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from tasks.common.backoff import deadline_seconds, next_wait
from tasks.common.errors import TaskFailed
from tasks.decommission import inventory, resources
from tasks.decommission.estate import Reach
from tasks.decommission.spec import (
    DYNAMODB_TABLE,
    EC2_INSTANCE,
    LAMBDA_FUNCTION,
    LOAD_BALANCER,
    RDS_CLUSTER,
    RDS_DB,
    ROUTE53_RECORD,
    S3_BUCKET,
)

EXPECTED_DELETION_SECONDS = 600  # an RDS instance or cluster takes minutes; the rest seconds
STATUS_DONE, STATUS_IN_PROGRESS = "done", "in-progress"
_BUSY = {
    "InvalidDBInstanceState",
    "InvalidDBInstanceStateFault",
    "InvalidDBClusterStateFault",
    "DBClusterToBeDeletedHasActiveMembers",
    "ResourceInUseException",
    "IncorrectInstanceState",
}


def delete_round(
    reach: Reach, spec: dict[str, Any], approved: list[dict[str, Any]], previous: dict[str, Any] | None = None
) -> dict[str, Any]:
    previous = previous or {}
    now = datetime.now(UTC).isoformat()
    current = {item["id"]: item for item in inventory.read(reach, spec)}
    approved_ids = {item["id"] for item in approved}
    left = [
        _left(item, "appeared in scope after approval; not deleted")
        for i, item in current.items()
        if i not in approved_ids
    ]
    deleted = list(previous.get("deleted", []))
    done_ids = {d["id"] for d in deleted}
    pending = []
    for item in approved:
        if item["id"] in done_ids:
            continue
        now_item = current.get(item["id"]) or resources.describe(reach.source, item["id"])
        if now_item is None:
            deleted.append({"id": item["id"], "type": item["type"], "name": item["name"], "deleted_at": now})
        elif now_item.get("protected") or inventory.is_protected(spec, now_item):
            left.append(_left(now_item, "protected since approval; not deleted"))
        else:
            started = _start(reach, now_item)
            if resources.describe(reach.source, item["id"]) is None:  # some deletes finish at once
                deleted.append(
                    {"id": item["id"], "type": item["type"], "name": item["name"], "deleted_at": now}
                )
            else:
                pending.append(started)
    return _result(previous, deleted, pending, left)


def _left(item: dict[str, Any], why: str) -> dict[str, Any]:
    return {"id": item["id"], "type": item["type"], "name": item["name"], "why": why}


def _result(previous: dict[str, Any], deleted: list[dict], pending: list[dict], left: list[dict]) -> dict:
    rounds, waited = int(previous.get("round", 0)) + 1, int(previous.get("waited_seconds", 0))
    result = {"deleted": deleted, "pending": pending, "left": left, "round": rounds}
    if not pending:
        return {**result, "status": STATUS_DONE, "wait_seconds": 0, "waited_seconds": waited}
    deadline = deadline_seconds(EXPECTED_DELETION_SECONDS)
    if waited >= deadline:
        raise TaskFailed(
            f"deletion still unfinished after {waited} s ({rounds} rounds): "
            + "; ".join(f"{p['type']} {p['name']}: {p['note']}" for p in pending)
        )
    wait = next_wait(EXPECTED_DELETION_SECONDS, waited, rounds - 1, deadline)
    return {**result, "status": STATUS_IN_PROGRESS, "wait_seconds": wait, "waited_seconds": waited + wait}


def _start(reach: Reach, item: dict[str, Any]) -> dict[str, Any]:
    """Start (or find under way) the deletion of one approved item."""
    try:
        note = _DELETE[item["type"]](reach, item)
    except ClientError as error:
        if resources.is_gone(error):  # an SDK retry of a delete whose first attempt went through
            return {"id": item["id"], "type": item["type"], "name": item["name"], "note": "already gone"}
        if error.response["Error"]["Code"] not in _BUSY:
            raise
        note = f"busy ({error.response['Error'].get('Message', 'in use')}); retried next round"
    return {"id": item["id"], "type": item["type"], "name": item["name"], "note": note}


def _rds_db(reach: Reach, item: dict[str, Any]) -> str:
    if item["state"] == "deleting":
        return "deleting"
    client = reach.source("rds", item["region"])
    if item.get("deletion_protection"):
        client.modify_db_instance(
            DBInstanceIdentifier=item["name"], DeletionProtection=False, ApplyImmediately=True
        )
    client.delete_db_instance(DBInstanceIdentifier=item["name"], SkipFinalSnapshot=True)
    return "delete started (final snapshot already retained)"


def _rds_cluster(reach: Reach, item: dict[str, Any]) -> str:
    if item["state"] == "deleting":
        return "deleting"
    client = reach.source("rds", item["region"])
    if item.get("deletion_protection"):
        client.modify_db_cluster(
            DBClusterIdentifier=item["name"], DeletionProtection=False, ApplyImmediately=True
        )
    for member in item.get("members") or []:
        try:
            client.delete_db_instance(DBInstanceIdentifier=member, SkipFinalSnapshot=True)
        except ClientError as error:
            if not resources.is_gone(error):
                raise
    client.delete_db_cluster(DBClusterIdentifier=item["name"], SkipFinalSnapshot=True)
    return "delete started (final snapshot already retained)"


def _s3(reach: Reach, item: dict[str, Any]) -> str:
    s3 = reach.source("s3", item["region"])
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=item["name"]):
        doomed = [
            {"Key": v["Key"], "VersionId": v["VersionId"]}
            for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
        ]
        if doomed:
            s3.delete_objects(Bucket=item["name"], Delete={"Objects": doomed, "Quiet": True})
    s3.delete_bucket(Bucket=item["name"])
    return "emptied and deleted"


def _lambda(reach: Reach, item: dict[str, Any]) -> str:
    reach.source("lambda", item["region"]).delete_function(FunctionName=item["id"])
    return "deleted"


def _ec2(reach: Reach, item: dict[str, Any]) -> str:
    client = reach.source("ec2", item["region"])
    client.modify_instance_attribute(InstanceId=item["name"], DisableApiTermination={"Value": False})
    client.terminate_instances(InstanceIds=[item["name"]])
    return "terminating"


def _elb(reach: Reach, item: dict[str, Any]) -> str:
    client = reach.source("elbv2", item["region"])
    client.modify_load_balancer_attributes(
        LoadBalancerArn=item["id"], Attributes=[{"Key": "deletion_protection.enabled", "Value": "false"}]
    )
    client.delete_load_balancer(LoadBalancerArn=item["id"])
    return "deleted"


def _dynamodb(reach: Reach, item: dict[str, Any]) -> str:
    if item["state"] == "DELETING":
        return "deleting"
    client = reach.source("dynamodb", item["region"])
    if item.get("deletion_protection"):
        client.update_table(TableName=item["name"], DeletionProtectionEnabled=False)
    client.delete_table(TableName=item["name"])
    return "delete started"


def _route53(reach: Reach, item: dict[str, Any]) -> str:
    route53 = reach.source("route53", resources.GLOBAL_REGION)
    record = resources.find_record(route53, item["id"])
    if record is not None:
        route53.change_resource_record_sets(
            HostedZoneId=resources.zone_id(route53, resources.record_ref(item["id"])[0]),
            ChangeBatch={"Changes": [{"Action": "DELETE", "ResourceRecordSet": record}]},
        )
    return "deleted"


_DELETE = {
    RDS_DB: _rds_db,
    RDS_CLUSTER: _rds_cluster,
    S3_BUCKET: _s3,
    LAMBDA_FUNCTION: _lambda,
    EC2_INSTANCE: _ec2,
    LOAD_BALANCER: _elb,
    DYNAMODB_TABLE: _dynamodb,
    ROUTE53_RECORD: _route53,
}
