"""The demo estate of a `decommission` wave: the Acme resources the earlier waves replaced.

Seeders run in dependency order, so this one (whose wave depends on the others) finds the source
databases and buckets already seeded: it tags them into the wave's scope, and adds an old reports
bucket nothing else uses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wavectl.kinds.decommission import DecommissionWave
from wavectl.local.seeders.common import bucket, client

if TYPE_CHECKING:
    from wavectl.local.engine import LocalCloud


def seed(cloud: LocalCloud, wave: DecommissionWave) -> dict[str, Any]:
    scope = wave.decommission
    tags = [{"Key": scope.tag_key, "Value": scope.tag_value}]
    tagged = [*_tag_databases(cloud, scope.regions, tags), *_tag_buckets(cloud, tags)]
    name = f"acme-legacy-reports-{cloud.accounts.source}"
    s3 = client(cloud, cloud.accounts.source, "s3")
    bucket(s3, name, cloud.region, tags)
    s3.put_object(Bucket=name, Key="reports/2025/annual.pdf", Body=b"%PDF-1.4 local")
    return {"tagged": tagged, "buckets": [name]}


def _tag_databases(cloud: LocalCloud, regions: list[str], tags: list[dict[str, str]]) -> list[str]:
    tagged = []
    for region in regions:
        rds = client(cloud, cloud.accounts.source, "rds", region)
        arns = [db["DBInstanceArn"] for db in rds.describe_db_instances()["DBInstances"]]
        arns += [c["DBClusterArn"] for c in rds.describe_db_clusters()["DBClusters"]]
        for arn in arns:
            rds.add_tags_to_resource(ResourceName=arn, Tags=tags)
        tagged += arns
    return tagged


def _tag_buckets(cloud: LocalCloud, tags: list[dict[str, str]]) -> list[str]:
    s3 = client(cloud, cloud.accounts.source, "s3")
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    for name in names:
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": tags})
    return [f"arn:aws:s3:::{name}" for name in names]
