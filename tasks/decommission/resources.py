"""Describe one resource of a supported type from its ARN: name, region, tags, size, state.

Route 53 records have no ARN; the runbook names them with wavectl's own reference
`arn:aws:route53:::hostedzone/<zone id>/recordset/<name>/<type>/<set identifier>`.
A resource that is gone describes as None.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

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

GLOBAL_REGION = "us-east-1"  # Route 53 is served there
GIB = 1024**3
_GONE = {
    "DBInstanceNotFound",
    "DBInstanceNotFoundFault",
    "DBClusterNotFoundFault",
    "NoSuchBucket",
    "ResourceNotFoundException",
    "InvalidInstanceID.NotFound",
    "LoadBalancerNotFound",
    "NoSuchHostedZone",
    "404",
    "NotFound",
}


def is_gone(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") in _GONE


def type_of(arn: str) -> str:
    parts = arn.split(":", 5)
    service, resource = parts[2], parts[5] if len(parts) > 5 else ""
    if service == "s3" and resource and "/" not in resource:
        return S3_BUCKET
    head = resource.split("/")[0].split(":")[0]
    found = {
        ("rds", "db"): RDS_DB,
        ("rds", "cluster"): RDS_CLUSTER,
        ("lambda", "function"): LAMBDA_FUNCTION,
        ("ec2", "instance"): EC2_INSTANCE,
        ("elasticloadbalancing", "loadbalancer"): LOAD_BALANCER,
        ("dynamodb", "table"): DYNAMODB_TABLE,
        ("route53", "hostedzone"): ROUTE53_RECORD,
    }.get((service, head))
    if found is None:
        raise ValueError(f"{arn}: not a resource type wavectl decommissions")
    return found


def region_of(arn: str) -> str | None:
    return arn.split(":")[3] or None


def name_of(arn: str) -> str:
    resource = arn.split(":", 5)[5]
    kind = type_of(arn)
    if kind in (RDS_DB, RDS_CLUSTER, LAMBDA_FUNCTION):
        return resource.split(":", 1)[1]
    if kind == LOAD_BALANCER:
        return resource.split("/")[2]
    if kind == ROUTE53_RECORD:
        return resource.split("/recordset/", 1)[1]
    return resource.split("/")[-1]


def record_ref(arn: str) -> tuple[str, str, str, str | None]:
    """(zone id, record name, type, set identifier) of a wavectl Route 53 record reference."""
    zone, rest = arn.split("hostedzone/", 1)[1].split("/recordset/", 1)
    name, rtype, *ident = rest.split("/")
    return zone, name if name.endswith(".") else f"{name}.", rtype, (ident[0] if ident else None)


def record_arn(zone: str, name: str, rtype: str, set_identifier: str | None) -> str:
    tail = f"/{set_identifier}" if set_identifier else ""
    return f"arn:aws:route53:::hostedzone/{zone}/recordset/{name.rstrip('.')}/{rtype}{tail}"


def _tags(pairs: list[dict[str, str]] | None) -> dict[str, str]:
    return {p["Key"]: p["Value"] for p in pairs or []}


def describe(client_for: Any, arn: str) -> dict[str, Any] | None:
    """The inventory item of `arn` (`client_for(service, region)` gives source-account clients)."""
    kind = type_of(arn)
    try:
        return _DESCRIBE[kind](client_for, arn)
    except ClientError as error:
        if is_gone(error):
            return None
        raise


def _item(
    arn: str, kind: str, region: str, tags: dict[str, str], size: int | None, state: str, **facts: Any
) -> dict[str, Any]:
    return {
        "id": arn,
        "type": kind,
        "name": name_of(arn),
        "region": region,
        "tags": tags,
        "size_bytes": size,
        "state": state,
        **facts,
    }


def _rds_db(client_for: Any, arn: str) -> dict[str, Any] | None:
    region = region_of(arn) or ""
    db = client_for("rds", region).describe_db_instances(DBInstanceIdentifier=name_of(arn))["DBInstances"][0]
    if db.get("DBClusterIdentifier"):
        return None  # an Aurora member goes with its cluster
    return _item(
        arn,
        RDS_DB,
        region,
        _tags(db.get("TagList")),
        int(db.get("AllocatedStorage") or 0) * GIB,
        db["DBInstanceStatus"],
        engine=db.get("Engine"),
        kms_key=db.get("KmsKeyId"),
        deletion_protection=bool(db.get("DeletionProtection")),
    )


def _rds_cluster(client_for: Any, arn: str) -> dict[str, Any] | None:
    region = region_of(arn) or ""
    found = client_for("rds", region).describe_db_clusters(DBClusterIdentifier=name_of(arn))["DBClusters"]
    cluster = found[0]
    members = [m["DBInstanceIdentifier"] for m in cluster.get("DBClusterMembers", [])]
    return _item(
        arn,
        RDS_CLUSTER,
        region,
        _tags(cluster.get("TagList")),
        int(cluster.get("AllocatedStorage") or 0) * GIB,
        cluster["Status"],
        engine=cluster.get("Engine"),
        members=members,
        deletion_protection=bool(cluster.get("DeletionProtection")),
    )


def bucket_region(s3: Any, bucket: str) -> str:
    location = s3.get_bucket_location(Bucket=bucket).get("LocationConstraint")
    return location or GLOBAL_REGION


def _s3_bucket(client_for: Any, arn: str) -> dict[str, Any] | None:
    bucket = name_of(arn)
    region = bucket_region(client_for("s3", GLOBAL_REGION), bucket)
    s3 = client_for("s3", region)
    try:
        tags = _tags(s3.get_bucket_tagging(Bucket=bucket).get("TagSet"))
    except ClientError as error:
        if error.response["Error"]["Code"] != "NoSuchTagSet":
            raise
        tags = {}
    count = size = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            count, size = count + 1, size + int(obj["Size"])
    return _item(arn, S3_BUCKET, region, tags, size, "active", objects=count)


def _lambda(client_for: Any, arn: str) -> dict[str, Any] | None:
    region = region_of(arn) or ""
    client = client_for("lambda", region)
    config = client.get_function(FunctionName=arn)["Configuration"]
    tags = client.list_tags(Resource=arn).get("Tags", {})
    return _item(
        arn, LAMBDA_FUNCTION, region, tags, int(config.get("CodeSize") or 0), config.get("State", "Active")
    )


def _ec2(client_for: Any, arn: str) -> dict[str, Any] | None:
    region = region_of(arn) or ""
    found = client_for("ec2", region).describe_instances(InstanceIds=[name_of(arn)])["Reservations"]
    instance = found[0]["Instances"][0] if found and found[0]["Instances"] else None
    if instance is None or instance["State"]["Name"] in ("terminated", "shutting-down"):
        return None
    return _item(arn, EC2_INSTANCE, region, _tags(instance.get("Tags")), None, instance["State"]["Name"])


def _elb(client_for: Any, arn: str) -> dict[str, Any] | None:
    region = region_of(arn) or ""
    client = client_for("elbv2", region)
    lb = client.describe_load_balancers(LoadBalancerArns=[arn])["LoadBalancers"][0]
    tags = client.describe_tags(ResourceArns=[arn])["TagDescriptions"][0].get("Tags")
    return _item(
        arn, LOAD_BALANCER, region, _tags(tags), None, lb["State"]["Code"], dns_name=lb.get("DNSName")
    )


def _dynamodb(client_for: Any, arn: str) -> dict[str, Any] | None:
    region = region_of(arn) or ""
    client = client_for("dynamodb", region)
    table = client.describe_table(TableName=name_of(arn))["Table"]
    tags = client.list_tags_of_resource(ResourceArn=arn).get("Tags")
    return _item(
        arn,
        DYNAMODB_TABLE,
        region,
        _tags(tags),
        int(table.get("TableSizeBytes") or 0),
        table["TableStatus"],
        deletion_protection=bool(table.get("DeletionProtectionEnabled")),
    )


def zone_id(route53: Any, zone: str) -> str | None:
    """A hosted zone id as given (`Z...`), or looked up from the zone's name (`example.com`)."""
    if "." not in zone:
        return zone
    wanted = zone if zone.endswith(".") else f"{zone}."
    zones = route53.list_hosted_zones_by_name(DNSName=wanted).get("HostedZones", [])
    found = [z["Id"].split("/")[-1] for z in zones if z["Name"] == wanted]
    return found[0] if found else None


def find_record(route53: Any, arn: str) -> dict[str, Any] | None:
    zone_ref, name, rtype, ident = record_ref(arn)
    zone = zone_id(route53, zone_ref)
    if zone is None:
        return None
    pages = route53.get_paginator("list_resource_record_sets").paginate(
        HostedZoneId=zone, StartRecordName=name, StartRecordType=rtype
    )
    for page in pages:
        for record in page["ResourceRecordSets"]:
            same = record["Name"] == name and record["Type"] == rtype
            if same and record.get("SetIdentifier") == ident:
                return record
            if record["Name"] != name:
                return None
    return None


def _route53(client_for: Any, arn: str) -> dict[str, Any] | None:
    record = find_record(client_for("route53", GLOBAL_REGION), arn)
    if record is None:
        return None
    weight = record.get("Weight")
    return _item(
        arn,
        ROUTE53_RECORD,
        "global",
        {},
        None,
        "active" if weight != 0 else "weight 0",
        weight=weight,
        weighted=weight is not None,
    )


_DESCRIBE = {
    RDS_DB: _rds_db,
    RDS_CLUSTER: _rds_cluster,
    S3_BUCKET: _s3_bucket,
    LAMBDA_FUNCTION: _lambda,
    EC2_INSTANCE: _ec2,
    LOAD_BALANCER: _elb,
    DYNAMODB_TABLE: _dynamodb,
    ROUTE53_RECORD: _route53,
}

# Resource Groups Tagging API filter for each type found by tag (Route 53 records carry no tags)
TAGGING_FILTERS = {
    RDS_DB: "rds:db",
    RDS_CLUSTER: "rds:cluster",
    S3_BUCKET: "s3",
    LAMBDA_FUNCTION: "lambda:function",
    EC2_INSTANCE: "ec2:instance",
    LOAD_BALANCER: "elasticloadbalancing:loadbalancer",
    DYNAMODB_TABLE: "dynamodb:table",
}


def tagged_arns(tagging: Any, key: str, value: str, types: list[str]) -> list[str]:
    filters = [TAGGING_FILTERS[t] for t in types if t in TAGGING_FILTERS]
    if not filters:
        return []
    found: list[str] = []
    for page in tagging.get_paginator("get_resources").paginate(
        TagFilters=[{"Key": key, "Values": [value]}], ResourceTypeFilters=filters
    ):
        found += [m["ResourceARN"] for m in page["ResourceTagMappingList"]]
    return found
