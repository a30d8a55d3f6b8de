"""Small boto3 adapters over RDS, KMS and EC2: one call each, no workflow logic."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

NOT_FOUND_CODES = {
    "DBSnapshotNotFound",
    "DBSnapshotNotFoundFault",
    "DBClusterSnapshotNotFoundFault",
    "DBInstanceNotFound",
    "DBInstanceNotFoundFault",
    "DBClusterNotFoundFault",
    "DBSubnetGroupNotFoundFault",
    "DBParameterGroupNotFound",
    "DBClusterParameterGroupNotFound",
    "NotFoundException",
}


def is_not_found(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") in NOT_FOUND_CODES


@dataclass(frozen=True)
class SnapshotApi:
    """The instance-snapshot or cluster-snapshot flavour of the same RDS calls."""

    db_type: str  # "instance" | "cluster"

    @property
    def _cluster(self) -> bool:
        return self.db_type == "cluster"

    @property
    def id_key(self) -> str:
        return "DBClusterSnapshotIdentifier" if self._cluster else "DBSnapshotIdentifier"

    @property
    def arn_key(self) -> str:
        return "DBClusterSnapshotArn" if self._cluster else "DBSnapshotArn"

    def describe(self, rds: Any, name: str) -> dict[str, Any] | None:
        try:
            if self._cluster:
                found = rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=name)
                items = found["DBClusterSnapshots"]
            else:
                items = rds.describe_db_snapshots(DBSnapshotIdentifier=name)["DBSnapshots"]
        except ClientError as error:
            if is_not_found(error):
                return None
            raise
        return items[0] if items else None

    def create(self, rds: Any, database: str, name: str, tags: list[dict[str, str]]) -> dict[str, Any]:
        if self._cluster:
            return rds.create_db_cluster_snapshot(
                DBClusterIdentifier=database, DBClusterSnapshotIdentifier=name, Tags=tags
            )["DBClusterSnapshot"]
        return rds.create_db_snapshot(DBInstanceIdentifier=database, DBSnapshotIdentifier=name, Tags=tags)[
            "DBSnapshot"
        ]

    def copy(
        self,
        rds: Any,
        *,
        source: str,
        name: str,
        kms_key: str,
        tags: list[dict[str, str]],
        source_region: str | None,
    ) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"KmsKeyId": kms_key, "Tags": tags}
        if source_region:
            kwargs["SourceRegion"] = source_region  # boto3 presigns the source-region request
        if self._cluster:
            return rds.copy_db_cluster_snapshot(
                SourceDBClusterSnapshotIdentifier=source, TargetDBClusterSnapshotIdentifier=name, **kwargs
            )["DBClusterSnapshot"]
        return rds.copy_db_snapshot(
            SourceDBSnapshotIdentifier=source, TargetDBSnapshotIdentifier=name, **kwargs
        )["DBSnapshot"]

    def set_shared(self, rds: Any, name: str, account: str, *, shared: bool) -> None:
        change = {"ValuesToAdd": [account]} if shared else {"ValuesToRemove": [account]}
        if self._cluster:
            rds.modify_db_cluster_snapshot_attribute(
                DBClusterSnapshotIdentifier=name, AttributeName="restore", **change
            )
        else:
            rds.modify_db_snapshot_attribute(DBSnapshotIdentifier=name, AttributeName="restore", **change)

    def shared_with(self, rds: Any, name: str) -> list[str]:
        if self._cluster:
            result = rds.describe_db_cluster_snapshot_attributes(DBClusterSnapshotIdentifier=name)
            attributes = result["DBClusterSnapshotAttributesResult"]["DBClusterSnapshotAttributes"]
        else:
            result = rds.describe_db_snapshot_attributes(DBSnapshotIdentifier=name)
            attributes = result["DBSnapshotAttributesResult"]["DBSnapshotAttributes"]
        for attribute in attributes:
            if attribute["AttributeName"] == "restore":
                return list(attribute.get("AttributeValues", []))
        return []

    def delete(self, rds: Any, name: str) -> None:
        if self._cluster:
            rds.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier=name)
        else:
            rds.delete_db_snapshot(DBSnapshotIdentifier=name)


def describe_instance(rds: Any, identifier: str) -> dict[str, Any] | None:
    try:
        return rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0]
    except ClientError as error:
        if is_not_found(error):
            return None
        raise


def describe_cluster(rds: Any, identifier: str) -> dict[str, Any] | None:
    try:
        return rds.describe_db_clusters(DBClusterIdentifier=identifier)["DBClusters"][0]
    except ClientError as error:
        if is_not_found(error):
            return None
        raise


def describe_database(rds: Any, db_type: str, identifier: str) -> dict[str, Any] | None:
    return describe_cluster(rds, identifier) if db_type == "cluster" else describe_instance(rds, identifier)


def describe_key(kms: Any, key: str) -> dict[str, Any] | None:
    try:
        return kms.describe_key(KeyId=key)["KeyMetadata"]
    except ClientError as error:
        if is_not_found(error):
            return None
        raise


def key_policy(kms: Any, key_id: str) -> dict[str, Any]:
    import json

    return json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])


def subnet_group_exists(rds: Any, name: str) -> bool:
    try:
        rds.describe_db_subnet_groups(DBSubnetGroupName=name)
        return True
    except ClientError as error:
        if is_not_found(error):
            return False
        raise


def parameter_group_exists(rds: Any, db_type: str, name: str) -> bool:
    try:
        if db_type == "cluster":
            rds.describe_db_cluster_parameter_groups(DBClusterParameterGroupName=name)
        else:
            rds.describe_db_parameter_groups(DBParameterGroupName=name)
        return True
    except ClientError as error:
        if is_not_found(error):
            return False
        raise


def security_group_ids(ec2: Any, names_or_ids: list[str]) -> dict[str, str | None]:
    """Each runbook security group (an `sg-` id or a group name) -> its id, or None when missing."""
    resolved: dict[str, str | None] = {}
    for entry in names_or_ids:
        field = "group-id" if entry.startswith("sg-") else "group-name"
        found = ec2.describe_security_groups(Filters=[{"Name": field, "Values": [entry]}])["SecurityGroups"]
        resolved[entry] = found[0]["GroupId"] if found else None
    return resolved
