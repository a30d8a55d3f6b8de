"""The legacy Acme estate a decommission wave retires, seeded into the embedded AWS.

In the source account (Acme), with the scope tag (`wavectl:decommission=<value>`) and a data class:
a reports bucket with files, a statement-renderer Lambda (eu-west-1) and an FX-rates Lambda
(eu-central-1: scope across regions), a batch EC2 instance, the old API load balancer with its
listener, a sessions DynamoDB table; plus what the earlier waves left (the databases, the old
payments bucket) when they exist, tagged into scope here. Around them: a protected audit bucket
(`wavectl:protected=true`) and out-of-scope resources (no tag, or another scope value) that must
survive. In the retention account (Globex): one Object Lock bucket per retained data class.
CloudWatch gets hourly zero datapoints over the last two days for every in-scope resource, as AWS
reports for an idle resource, so the usage proof has data.
"""

from __future__ import annotations

import contextlib
import io
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

SessionFor = Callable[[str, str], boto3.Session]  # (account, region) -> administrator session
REGION, OTHER_REGION = "eu-west-1", "eu-central-1"
PROTECTED_TAG = "wavectl:protected"
DATA_CLASS_TAG = "wavectl:data-class"
IDLE_HOURS = 48
LEGACY_IMAGE = "ami-12c6146b"  # one of the images moto knows in every region
LEGACY_IMAGE_NAME = "acme-batch-2019"


def _tags(pairs: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in pairs.items()]


def _bucket(s3: Any, name: str, region: str, tags: dict[str, str], *, object_lock: bool = False) -> str:
    args: dict[str, Any] = {"Bucket": name, "CreateBucketConfiguration": {"LocationConstraint": region}}
    if object_lock:
        args["ObjectLockEnabledForBucket"] = True
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(**args)
    if tags:
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": _tags(tags)})
    return f"arn:aws:s3:::{name}"


def tag_resource(session_for: SessionFor, account: str, arn: str, tags: dict[str, str]) -> None:
    """Add tags to any taggable resource through the Resource Groups Tagging API (S3: bucket tagging)."""
    region = arn.split(":")[3] or REGION
    if arn.startswith("arn:aws:s3:::"):
        s3 = session_for(account, region).client("s3")
        name = arn.rsplit(":", 1)[-1]
        try:
            current = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=name)["TagSet"]}
        except s3.exceptions.ClientError:
            current = {}
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": _tags({**current, **tags})})
        return
    if ":rds:" in arn:
        session_for(account, region).client("rds").add_tags_to_resource(ResourceName=arn, Tags=_tags(tags))
        return
    session_for(account, region).client("resourcegroupstaggingapi").tag_resources(
        ResourceARNList=[arn], Tags=tags
    )


def _function(session_for: SessionFor, account: str, region: str, name: str, tags: dict[str, str]) -> str:
    session = session_for(account, region)
    role = _lambda_role(session)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("index.py", "def handler(event, context):\n    return {}\n")
    return session.client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler="index.handler",
        Code={"ZipFile": archive.getvalue()},
        Tags=tags,
    )["FunctionArn"]


def _lambda_role(session: boto3.Session) -> str:
    iam = session.client("iam")
    try:
        return iam.get_role(RoleName="acme-legacy-lambda")["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        trust = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}'  # noqa: E501
        return iam.create_role(RoleName="acme-legacy-lambda", AssumeRolePolicyDocument=trust)["Role"]["Arn"]


def _instance(session: boto3.Session, name: str, tags: dict[str, str]) -> str:
    ec2 = session.client("ec2")
    image = ec2.describe_images(Filters=[{"Name": "name", "Values": [LEGACY_IMAGE_NAME]}])["Images"]
    image = image[0]["ImageId"] if image else LEGACY_IMAGE
    instance = ec2.run_instances(
        ImageId=image,
        MinCount=1,
        MaxCount=1,
        InstanceType="t3.micro",
        TagSpecifications=[{"ResourceType": "instance", "Tags": _tags({"Name": name, **tags})}],
    )["Instances"][0]
    account = instance.get("OwnerId") or session.client("sts").get_caller_identity()["Account"]
    return f"arn:aws:ec2:{session.region_name}:{account}:instance/{instance['InstanceId']}"


def _load_balancer(session: boto3.Session, name: str, tags: dict[str, str]) -> str:
    ec2, elb = session.client("ec2"), session.client("elbv2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnets = [
        s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
    ]
    lb = elb.create_load_balancer(Name=name, Subnets=subnets[:2], Tags=_tags(tags))["LoadBalancers"][0]
    group = elb.create_target_group(Name=f"{name}-tg", Protocol="HTTP", Port=8080, VpcId=vpc)["TargetGroups"][
        0
    ]
    elb.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"],
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": group["TargetGroupArn"]}],
    )
    return lb["LoadBalancerArn"]


def _table(session: boto3.Session, name: str, tags: dict[str, str]) -> str:
    return session.client("dynamodb").create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        Tags=_tags(tags),
        DeletionProtectionEnabled=True,
    )["TableDescription"]["TableArn"]


def seed_legacy(
    session_for: SessionFor, source: str, scope: tuple[str, str], *, name_suffix: str = ""
) -> dict[str, Any]:
    """The in-scope legacy resources, one protected bucket, and out-of-scope resources (source account)."""
    key, value = scope
    in_scope = {key: value}
    west = session_for(source, REGION)
    s3 = west.client("s3")
    reports = f"acme-legacy-reports{name_suffix}"
    made: dict[str, Any] = {"in_scope": {}, "protected": {}, "out_of_scope": {}}
    made["in_scope"]["reports_bucket"] = _bucket(
        s3, reports, REGION, {**in_scope, DATA_CLASS_TAG: "eu-personal"}
    )
    for n, body in enumerate((b"%PDF-1.4 annual report 2024", b"%PDF-1.4 annual report 2025", b"q,a\n1,2\n")):
        s3.put_object(Bucket=reports, Key=f"reports/{2024 + n}/report-{n}.pdf", Body=body)
    made["in_scope"]["renderer"] = _function(session_for, source, REGION, "acme-statement-renderer", in_scope)
    made["in_scope"]["fx_rates"] = _function(
        session_for, source, OTHER_REGION, "acme-fx-rates-cache", in_scope
    )
    made["in_scope"]["batch"] = _instance(west, "acme-batch-01", in_scope)
    made["in_scope"]["api_lb"] = _load_balancer(west, "acme-api-old", in_scope)
    made["in_scope"]["sessions"] = _table(west, "acme-sessions", {**in_scope, DATA_CLASS_TAG: "public"})
    protected = {PROTECTED_TAG: "true", DATA_CLASS_TAG: "eu-payments"}
    made["protected"]["audit_bucket"] = _bucket(s3, f"acme-audit-trail{name_suffix}", REGION, protected)
    made["out_of_scope"]["kyc"] = _function(session_for, source, REGION, "acme-kyc-check", {})
    made["out_of_scope"]["scratch_bucket"] = _bucket(
        s3, f"acme-ops-scratch{name_suffix}", REGION, {key: "some-later-wave"}
    )
    return made


def seed_retention_buckets(session_for: SessionFor, rules: dict[str, dict[str, Any]]) -> list[str]:
    """One Object Lock bucket per retained data class, in its retention account and region."""
    made = []
    for rule in rules.values():
        if not rule.get("retain", True) or not rule.get("bucket"):
            continue
        s3 = session_for(rule["account"], rule["region"]).client("s3")
        made.append(_bucket(s3, rule["bucket"], rule["region"], {}, object_lock=True))
        s3.put_bucket_versioning(Bucket=rule["bucket"], VersioningConfiguration={"Status": "Enabled"})
    return made


# ----------------------------------------------------------------------------- CloudWatch

_METRICS = {  # arn marker -> [(namespace, metric, dimension builder)]
    ":rds:": [("AWS/RDS", "DatabaseConnections")],
    ":s3:": [("AWS/S3", "AllRequests")],
    ":lambda:": [("AWS/Lambda", "Invocations")],
    ":ec2:": [("AWS/EC2", "NetworkIn")],
    ":elasticloadbalancing:": [("AWS/ApplicationELB", "RequestCount")],
    ":dynamodb:": [
        ("AWS/DynamoDB", "ConsumedReadCapacityUnits"),
        ("AWS/DynamoDB", "ConsumedWriteCapacityUnits"),
    ],
}


def metric_dimensions(arn: str) -> list[dict[str, str]]:
    resource = arn.split(":", 5)[5]
    if ":rds:" in arn:
        kind, name = resource.split(":", 1)
        return [
            {"Name": "DBClusterIdentifier" if kind == "cluster" else "DBInstanceIdentifier", "Value": name}
        ]
    if arn.startswith("arn:aws:s3:::"):
        return [{"Name": "BucketName", "Value": resource}, {"Name": "FilterId", "Value": "EntireBucket"}]
    if ":lambda:" in arn:
        return [{"Name": "FunctionName", "Value": resource.split(":", 1)[1]}]
    if ":ec2:" in arn:
        return [{"Name": "InstanceId", "Value": resource.split("/")[-1]}]
    if ":elasticloadbalancing:" in arn:
        return [{"Name": "LoadBalancer", "Value": resource.split("loadbalancer/", 1)[1]}]
    return [{"Name": "TableName", "Value": resource.split("/")[-1]}]


def put_usage(
    session_for: SessionFor,
    account: str,
    arn: str,
    value: float = 0.0,
    *,
    hours: int = IDLE_HOURS,
    at: datetime | None = None,
) -> None:
    """Hourly datapoints of the resource's usage metrics (value 0: idle) for the last `hours` hours;
    with `at`, one datapoint of `value` at that time instead."""
    region = arn.split(":")[3] or REGION
    cloudwatch = session_for(account, region).client("cloudwatch")
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    times = [at] if at else [now - timedelta(hours=h) for h in range(1, hours + 1)]
    for marker, metrics in _METRICS.items():
        if marker not in arn and not (marker == ":s3:" and arn.startswith("arn:aws:s3:::")):
            continue
        for namespace, name in metrics:
            data = [
                {"MetricName": name, "Dimensions": metric_dimensions(arn), "Timestamp": t, "Value": value}
                for t in times
            ]
            for start in range(0, len(data), 500):
                cloudwatch.put_metric_data(Namespace=namespace, MetricData=data[start : start + 500])
