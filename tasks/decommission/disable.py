"""Disable every approved resource, recording what it was so that `restore` can put it back.

- RDS instances and clusters, EC2 instances: stopped (restored: started again if they were running);
- S3 buckets: a deny-all bucket policy (the previous policy text is kept and put back byte for byte);
- Lambda functions: reserved concurrency 0 (restored: the previous reservation, or none);
- load balancers: every listener removed, its configuration and rules kept (restored: recreated);
- Route 53 records: weight 0 (restored: the previous record set);
- DynamoDB tables have no off switch: nothing is changed and the record says so.

The previous state is read and stored (write-once) before each change, so a retried task keeps
the first record and never records its own deny-all as the state to restore.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from tasks.decommission import resources
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

_LISTENER_KEYS = ("Protocol", "Port", "SslPolicy", "Certificates", "DefaultActions", "AlpnPolicy")


def deny_all_policy(bucket: str, keep_principal: str) -> str:
    """Deny everyone but wavectl's own role (which must still copy, restore and delete)."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "WavectlDecommissionDenyAll",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                    "Condition": {"ArnNotLike": {"aws:PrincipalArn": keep_principal}},
                }
            ],
        }
    )


Keep = Callable[[dict[str, Any]], dict[str, Any]]  # store a record before acting; returns the first one kept


def disable_all(reach: Reach, items: list[dict[str, Any]], keep: Keep) -> list[dict[str, Any]]:
    """Disable each item; one record per item: {id, type, name, region, action, previous}.

    `keep` stores each record (write-once) before the change and returns the record first stored, so
    a retried task restores to the state before the first attempt, never to its own deny-all.
    """
    records = []
    for item in items:
        record = keep(_CAPTURE[item["type"]](reach, item))
        _APPLY[item["type"]](reach, record)
        records.append(record)
    return records


def restore_all(reach: Reach, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Put every disabled resource back to its recorded state; one result per record."""
    results = []
    for record in records:
        if resources.describe(reach.source, record["id"]) is None:
            results.append({**record, "restored": False, "gone": True})  # deleted after the final gate
            continue
        try:
            results.append({**record, "restored": _RESTORE[record["type"]](reach, record)})
        except ClientError as error:
            results.append({**record, "restored": False, "restore_error": str(error)})
    return results


def _record(item: dict[str, Any], action: str, previous: Any) -> dict[str, Any]:
    return {
        "id": item["id"],
        "type": item["type"],
        "name": item["name"],
        "region": item["region"],
        "action": action,
        "previous": previous,
    }


# ----------------------------------------------------------------------------- capture (read only)


def _capture_rds(reach: Reach, item: dict[str, Any]) -> dict[str, Any]:
    current = resources.describe(reach.source, item["id"]) or item
    return _record(item, "stopped", {"status": current["state"]})


def _capture_ec2(reach: Reach, item: dict[str, Any]) -> dict[str, Any]:
    current = resources.describe(reach.source, item["id"]) or item
    return _record(item, "stopped", {"state": current["state"]})


def _capture_s3(reach: Reach, item: dict[str, Any]) -> dict[str, Any]:
    try:
        previous = reach.source("s3", item["region"]).get_bucket_policy(Bucket=item["name"])["Policy"]
    except ClientError as error:
        if error.response["Error"]["Code"] != "NoSuchBucketPolicy":
            raise
        previous = None
    return _record(item, "deny-all bucket policy", {"policy": previous})


def _capture_lambda(reach: Reach, item: dict[str, Any]) -> dict[str, Any]:
    client = reach.source("lambda", item["region"])
    previous = client.get_function_concurrency(FunctionName=item["id"]).get("ReservedConcurrentExecutions")
    return _record(item, "reserved concurrency 0", {"reserved_concurrency": previous})


def _capture_elb(reach: Reach, item: dict[str, Any]) -> dict[str, Any]:
    client = reach.source("elbv2", item["region"])
    listeners = []
    for listener in client.describe_listeners(LoadBalancerArn=item["id"])["Listeners"]:
        rules = client.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"]
        kept = {k: listener[k] for k in _LISTENER_KEYS if listener.get(k) not in (None, [])}
        kept["Rules"] = [
            {"Priority": int(r["Priority"]), "Conditions": r["Conditions"], "Actions": r["Actions"]}
            for r in rules
            if not r.get("IsDefault")
        ]
        listeners.append(kept)
    return _record(item, "listeners removed", {"listeners": listeners})


def _capture_route53(reach: Reach, item: dict[str, Any]) -> dict[str, Any]:
    record = resources.find_record(reach.source("route53", resources.GLOBAL_REGION), item["id"])
    return _record(item, "weight 0", {"record": record})


def _capture_dynamodb(reach: Reach, item: dict[str, Any]) -> dict[str, Any]:
    return _record(item, "none (DynamoDB has no off switch; its usage was proven nil)", {})


_CAPTURE = {
    RDS_DB: _capture_rds,
    RDS_CLUSTER: _capture_rds,
    EC2_INSTANCE: _capture_ec2,
    S3_BUCKET: _capture_s3,
    LAMBDA_FUNCTION: _capture_lambda,
    LOAD_BALANCER: _capture_elb,
    ROUTE53_RECORD: _capture_route53,
    DYNAMODB_TABLE: _capture_dynamodb,
}


# ----------------------------------------------------------------------------- apply (idempotent)


def _apply_rds_db(reach: Reach, record: dict[str, Any]) -> None:
    client = reach.source("rds", record["region"])
    found = client.describe_db_instances(DBInstanceIdentifier=record["name"])["DBInstances"][0]
    if found["DBInstanceStatus"] == "available":
        _state_change(
            lambda: client.stop_db_instance(DBInstanceIdentifier=record["name"]),
            lambda: _instance_status(client, record["name"]) in STOPPED,
        )


def _apply_rds_cluster(reach: Reach, record: dict[str, Any]) -> None:
    client = reach.source("rds", record["region"])
    if (
        client.describe_db_clusters(DBClusterIdentifier=record["name"])["DBClusters"][0]["Status"]
        == "available"
    ):
        _state_change(
            lambda: client.stop_db_cluster(DBClusterIdentifier=record["name"]),
            lambda: _cluster_status(client, record["name"]) in STOPPED,
        )


def _apply_ec2(reach: Reach, record: dict[str, Any]) -> None:
    reach.source("ec2", record["region"]).stop_instances(InstanceIds=[record["name"]])


def _apply_s3(reach: Reach, record: dict[str, Any]) -> None:
    policy = deny_all_policy(record["name"], reach.source_role_arn)
    reach.source("s3", record["region"]).put_bucket_policy(Bucket=record["name"], Policy=policy)


def _apply_lambda(reach: Reach, record: dict[str, Any]) -> None:
    client = reach.source("lambda", record["region"])
    client.put_function_concurrency(FunctionName=record["id"], ReservedConcurrentExecutions=0)


def _apply_elb(reach: Reach, record: dict[str, Any]) -> None:
    client = reach.source("elbv2", record["region"])
    for listener in client.describe_listeners(LoadBalancerArn=record["id"])["Listeners"]:
        client.delete_listener(ListenerArn=listener["ListenerArn"])


def _apply_route53(reach: Reach, record: dict[str, Any]) -> None:
    route53 = reach.source("route53", resources.GLOBAL_REGION)
    zone = resources.zone_id(route53, resources.record_ref(record["id"])[0])
    weighted = {**record["previous"]["record"], "Weight": 0}
    route53.change_resource_record_sets(
        HostedZoneId=zone,
        ChangeBatch={
            "Comment": "wavectl decommission: weight 0",
            "Changes": [{"Action": "UPSERT", "ResourceRecordSet": weighted}],
        },
    )


_APPLY = {
    RDS_DB: _apply_rds_db,
    RDS_CLUSTER: _apply_rds_cluster,
    EC2_INSTANCE: _apply_ec2,
    S3_BUCKET: _apply_s3,
    LAMBDA_FUNCTION: _apply_lambda,
    LOAD_BALANCER: _apply_elb,
    ROUTE53_RECORD: _apply_route53,
    DYNAMODB_TABLE: lambda reach, record: None,
}


# ----------------------------------------------------------------------------- restore


def _restore_rds_db(reach: Reach, record: dict[str, Any]) -> bool:
    if record["previous"].get("status") == "available":
        client = reach.source("rds", record["region"])
        found = client.describe_db_instances(DBInstanceIdentifier=record["name"])["DBInstances"][0]
        if found["DBInstanceStatus"] in STOPPED:
            _state_change(
                lambda: client.start_db_instance(DBInstanceIdentifier=record["name"]),
                lambda: _instance_status(client, record["name"]) in STARTED,
            )
    return True


def _restore_rds_cluster(reach: Reach, record: dict[str, Any]) -> bool:
    if record["previous"].get("status") == "available":
        client = reach.source("rds", record["region"])
        found = client.describe_db_clusters(DBClusterIdentifier=record["name"])["DBClusters"][0]
        if found["Status"] in STOPPED:
            _state_change(
                lambda: client.start_db_cluster(DBClusterIdentifier=record["name"]),
                lambda: _cluster_status(client, record["name"]) in STARTED,
            )
    return True


def _restore_ec2(reach: Reach, record: dict[str, Any]) -> bool:
    if record["previous"].get("state") in ("running", "pending"):
        reach.source("ec2", record["region"]).start_instances(InstanceIds=[record["name"]])
    return True


def _restore_s3(reach: Reach, record: dict[str, Any]) -> bool:
    s3 = reach.source("s3", record["region"])
    previous = record["previous"].get("policy")
    if previous is None:
        s3.delete_bucket_policy(Bucket=record["name"])
    else:
        s3.put_bucket_policy(Bucket=record["name"], Policy=previous)
    return True


def _restore_lambda(reach: Reach, record: dict[str, Any]) -> bool:
    client = reach.source("lambda", record["region"])
    previous = record["previous"].get("reserved_concurrency")
    if previous is None:
        client.delete_function_concurrency(FunctionName=record["id"])
    else:
        client.put_function_concurrency(FunctionName=record["id"], ReservedConcurrentExecutions=previous)
    return True


def _restore_elb(reach: Reach, record: dict[str, Any]) -> bool:
    client = reach.source("elbv2", record["region"])
    existing = {
        (lst["Protocol"], lst["Port"])
        for lst in client.describe_listeners(LoadBalancerArn=record["id"])["Listeners"]
    }
    for kept in record["previous"].get("listeners", []):
        if (kept["Protocol"], kept["Port"]) in existing:
            continue
        config = {k: v for k, v in kept.items() if k != "Rules"}
        arn = client.create_listener(LoadBalancerArn=record["id"], **config)["Listeners"][0]["ListenerArn"]
        for rule in kept.get("Rules", []):
            client.create_rule(ListenerArn=arn, **rule)
    return True


def _restore_route53(reach: Reach, record: dict[str, Any]) -> bool:
    previous = record["previous"].get("record")
    route53 = reach.source("route53", resources.GLOBAL_REGION)
    zone = resources.zone_id(route53, resources.record_ref(record["id"])[0])
    route53.change_resource_record_sets(
        HostedZoneId=zone,
        ChangeBatch={
            "Comment": "wavectl decommission: restored",
            "Changes": [{"Action": "UPSERT", "ResourceRecordSet": previous}],
        },
    )
    return True


_RESTORE = {
    RDS_DB: _restore_rds_db,
    RDS_CLUSTER: _restore_rds_cluster,
    EC2_INSTANCE: _restore_ec2,
    S3_BUCKET: _restore_s3,
    LAMBDA_FUNCTION: _restore_lambda,
    LOAD_BALANCER: _restore_elb,
    ROUTE53_RECORD: _restore_route53,
    DYNAMODB_TABLE: lambda reach, record: True,
}


STOPPED = ("stopped", "stopping")
STARTED = ("available", "starting")
_INVALID_STATE = ("InvalidDBInstanceState", "InvalidDBInstanceStateFault", "InvalidDBClusterStateFault")


def _state_change(change: Callable[[], Any], reached: Callable[[], bool]) -> None:
    """Stop or start an RDS resource. When the SDK retries a request whose first attempt was carried
    out but whose response was lost, RDS refuses the retry as an invalid state: the change is made, so
    that refusal is success when the resource is now where the change takes it."""
    try:
        change()
    except ClientError as error:
        if error.response["Error"]["Code"] not in _INVALID_STATE or not reached():
            raise


def _instance_status(client: Any, name: str) -> str:
    return client.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]["DBInstanceStatus"]


def _cluster_status(client: Any, name: str) -> str:
    return client.describe_db_clusters(DBClusterIdentifier=name)["DBClusters"][0]["Status"]
