"""The demo RDS estate of a `db-snapshot-copy` wave, seeded into the embedded AWS (moto).

`seed(cloud, wave)` is the wave kind's seeder; `seed_rds(runbook, session_for)` does the same for
every `db-snapshot-copy` wave with any `(account, region) -> session` factory (the task tests use moto
sessions without a LocalCloud). For every database it creates:

- in the source account: a customer-managed KMS key under the runbook's `shared_kms_key` alias
  whose key policy lets the target account use it (in the database's region and, for a
  cross-region copy, in its target region too), and the source DB instance or Aurora cluster
  (with two cluster members) encrypted with that key;
- in the target account, in each target region: the target key alias, a VPC with two subnets,
  the DB subnet group, the security groups and the (cluster) parameter group the runbook names.

It also fixes two moto gaps (`allow_shared_snapshot_copies`, `allow_enabling_the_data_api`) so the
wave's tasks can run in moto exactly as they call AWS.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any

import boto3
import botocore.loaders
import botocore.session

from tasks.contracts import WaveKind
from wavectl.kinds.db_snapshot_copy import Database, DbSnapshotCopyWave
from wavectl.runbook import Runbook

if TYPE_CHECKING:
    from wavectl.local.engine import LocalCloud

SessionFactory = Callable[[str, str], boto3.Session]
SOURCE_ENGINES = {"instance": ("postgres", "16.3"), "cluster": ("aurora-postgresql", "15.4")}
SOURCE_INSTANCE_CLASS = "db.r6g.large"
SOURCE_SIZE_GIB = 100
SEED_TAGS = [{"Key": "app", "Value": "acme-core"}, {"Key": "owner", "Value": "platform"}]


@cache
def _loader() -> botocore.loaders.Loader:
    return botocore.loaders.create_loader()  # parse each service model once per process


def _botocore() -> botocore.session.Session:
    core = botocore.session.get_session()
    core.register_component("data_loader", _loader())
    return core


def moto_session(account_id: str, region: str) -> boto3.Session:
    """A session acting in `account_id` inside moto (moto maps assumed-role credentials to accounts)."""
    sts = boto3.Session(botocore_session=_botocore(), region_name=region).client("sts")
    credentials = sts.assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/wavectl-seed", RoleSessionName="wavectl-seed"
    )["Credentials"]
    return boto3.Session(
        botocore_session=_botocore(),
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=region,
    )


def _cached(session_for: SessionFactory) -> SessionFactory:
    sessions: dict[tuple[str, str], boto3.Session] = {}

    def cached(account: str, region: str) -> boto3.Session:
        if (account, region) not in sessions:
            sessions[(account, region)] = session_for(account, region)
        return sessions[(account, region)]

    return cached


def seed(cloud: LocalCloud, wave: DbSnapshotCopyWave) -> dict[str, Any]:
    """The wave kind's seeder: this wave's databases and landing zone in the embedded AWS."""
    from wavectl.local.accounts import account_session

    for db in wave.databases:  # the simulated RDS durations follow the runbook's sizes
        if db.size_gib:
            cloud.rds_durations.sizes[db.id] = db.size_gib
    return seed_rds(cloud.runbook, account_session, waves=[wave])


def seed_rds(
    runbook: Runbook,
    session_for: SessionFactory = moto_session,
    *,
    waves: list[DbSnapshotCopyWave] | None = None,
) -> dict[str, Any]:
    """Seed the source databases and the target landing zone of `db-snapshot-copy` waves into moto.

    `session_for(account_id, region)` gives a session in that account (default: moto STS);
    `waves` limits the seeding (default: every db-snapshot-copy wave of the runbook).
    Returns what was created: `{"source": {...}, "target": {...}}` keyed by `account/region`.
    """
    allow_shared_snapshot_copies()
    allow_enabling_the_data_api()
    session_for = _cached(session_for)
    accounts = runbook.program.accounts
    if waves is None:
        waves = [w for w in runbook.waves if w.kind == WaveKind.DB_SNAPSHOT_COPY]  # type: ignore[misc]
    seeded: dict[str, dict[str, Any]] = {"source": {}, "target": {}}
    for copy_wave in waves:
        for db in copy_wave.databases:
            source = _SourceSeeder(session_for, accounts.source.id, accounts.target.id, seeded["source"])
            source.database(db)
            _TargetSeeder(session_for, accounts.target.id, seeded["target"]).landing_zone(db)
    return seeded


# ----------------------------------------------------------------------------- source account


def shared_key_policy(source_account: str, target_account: str) -> str:
    """Key policy of the shared key: the source account administers it, the target account uses it."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "SourceAccountAdministers",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{source_account}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                },
                {
                    "Sid": "TargetAccountCopiesSharedSnapshots",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{target_account}:root"},
                    "Action": ["kms:Decrypt", "kms:DescribeKey", "kms:CreateGrant", "kms:ReEncrypt*"],
                    "Resource": "*",
                },
            ],
        }
    )


def _key(session: boto3.Session, alias: str, description: str, policy: str | None = None) -> str:
    """The key behind `alias` in the session's account/region, created if missing; returns its ARN."""
    kms = session.client("kms")
    try:
        return kms.describe_key(KeyId=alias)["KeyMetadata"]["Arn"]
    except kms.exceptions.NotFoundException:
        pass
    kwargs: dict[str, Any] = {"Description": description}
    if policy is not None:
        kwargs["Policy"] = policy
    key = kms.create_key(**kwargs)["KeyMetadata"]
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    return key["Arn"]


class _SourceSeeder:
    def __init__(self, session_for: SessionFactory, account: str, target_account: str, out: dict) -> None:
        self.session_for = session_for
        self.account = account
        self.target_account = target_account
        self.out = out

    def database(self, db: Database) -> None:
        policy = shared_key_policy(self.account, self.target_account)
        regions = dict.fromkeys([db.region, db.target_region])
        keys = {
            region: _key(
                self.session_for(self.account, region), db.shared_kms_key, "wavectl shared key", policy
            )
            for region in regions
        }
        rds = self.session_for(self.account, db.region).client("rds")
        record = self.out.setdefault(f"{self.account}/{db.region}", {"keys": {}, "databases": []})
        record["keys"][db.shared_kms_key] = keys[db.region]
        tags = [*SEED_TAGS, {"Key": "data-class", "Value": db.data_class}]
        if db.type == "instance":
            self._instance(rds, db, keys[db.region], tags)
        else:
            self._cluster(rds, db, keys[db.region], tags)
        record["databases"].append(db.id)

    def _instance(self, rds: Any, db: Database, key_arn: str, tags: list[dict[str, str]]) -> None:
        if rds.describe_db_instances(Filters=[{"Name": "db-instance-id", "Values": [db.id]}])["DBInstances"]:
            return
        engine, version = SOURCE_ENGINES["instance"]
        rds.create_db_instance(
            DBInstanceIdentifier=db.id,
            Engine=engine,
            EngineVersion=version,
            DBInstanceClass=SOURCE_INSTANCE_CLASS,
            AllocatedStorage=SOURCE_SIZE_GIB,
            StorageType="gp3",
            MasterUsername="acme",
            MasterUserPassword="not-a-real-password-1",
            StorageEncrypted=True,
            KmsKeyId=key_arn,
            Tags=tags,
        )

    def _cluster(self, rds: Any, db: Database, key_arn: str, tags: list[dict[str, str]]) -> None:
        if rds.describe_db_clusters(Filters=[{"Name": "db-cluster-id", "Values": [db.id]}])["DBClusters"]:
            return
        engine, version = SOURCE_ENGINES["cluster"]
        rds.create_db_cluster(
            DBClusterIdentifier=db.id,
            Engine=engine,
            EngineVersion=version,
            MasterUsername="acme",
            MasterUserPassword="not-a-real-password-1",
            StorageEncrypted=True,
            KmsKeyId=key_arn,
            Tags=tags,
        )
        for member in (1, 2):
            rds.create_db_instance(
                DBInstanceIdentifier=f"{db.id}-{member}",
                DBClusterIdentifier=db.id,
                Engine=engine,
                DBInstanceClass=SOURCE_INSTANCE_CLASS,
            )


# ----------------------------------------------------------------------------- target account


class _TargetSeeder:
    def __init__(self, session_for: SessionFactory, account: str, out: dict) -> None:
        self.session_for = session_for
        self.account = account
        self.out = out

    def landing_zone(self, db: Database) -> None:
        session = self.session_for(self.account, db.target_region)
        record = self.out.setdefault(
            f"{self.account}/{db.target_region}",
            {"keys": {}, "subnet_groups": [], "security_groups": {}, "parameter_groups": []},
        )
        target = db.target
        record["keys"][target.kms_key] = _key(session, target.kms_key, "Globex RDS key")
        subnets, vpc_id = self._network(session, db.target_region)
        self._subnet_group(session.client("rds"), target.subnet_group, subnets, record)
        for name in target.security_groups:
            record["security_groups"][name] = self._security_group(session.client("ec2"), vpc_id, name)
        if target.parameter_group:
            self._parameter_group(session.client("rds"), db, record)

    def _network(self, session: boto3.Session, region: str) -> tuple[list[str], str]:
        ec2 = session.client("ec2")
        tagged = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": ["wavectl-landing"]}])["Vpcs"]
        if tagged:
            vpc_id = tagged[0]["VpcId"]
            found = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]
            return [s["SubnetId"] for s in found], vpc_id
        vpc_id = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
        ec2.create_tags(Resources=[vpc_id], Tags=[{"Key": "Name", "Value": "wavectl-landing"}])
        subnets = [
            ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.42.{i}.0/24", AvailabilityZone=f"{region}{az}")[
                "Subnet"
            ]["SubnetId"]
            for i, az in enumerate("ab")
        ]
        return subnets, vpc_id

    @staticmethod
    def _subnet_group(rds: Any, name: str, subnets: list[str], record: dict) -> None:
        if name in record["subnet_groups"]:
            return
        rds.create_db_subnet_group(
            DBSubnetGroupName=name, DBSubnetGroupDescription="Globex data subnets", SubnetIds=subnets
        )
        record["subnet_groups"].append(name)

    @staticmethod
    def _security_group(ec2: Any, vpc_id: str, name: str) -> str:
        found = ec2.describe_security_groups(
            Filters=[{"Name": "group-name", "Values": [name]}, {"Name": "vpc-id", "Values": [vpc_id]}]
        )["SecurityGroups"]
        if found:
            return found[0]["GroupId"]
        return ec2.create_security_group(GroupName=name, Description="Globex databases", VpcId=vpc_id)[
            "GroupId"
        ]

    @staticmethod
    def _parameter_group(rds: Any, db: Database, record: dict) -> None:
        name = db.target.parameter_group
        if name in record["parameter_groups"]:
            return
        if db.type == "instance":
            rds.create_db_parameter_group(
                DBParameterGroupName=name, DBParameterGroupFamily="postgres16", Description="Globex"
            )
        else:
            rds.create_db_cluster_parameter_group(
                DBClusterParameterGroupName=name,
                DBParameterGroupFamily="aurora-postgresql15",
                Description="Globex",
            )
        record["parameter_groups"].append(name)


# ----------------------------------------------------------------------------- moto gap


def allow_shared_snapshot_copies() -> None:
    """Let moto copy a snapshot another account shared, as AWS does (idempotent, process-wide).

    moto 5.2.5 resolves a snapshot ARN in the *caller's* account whatever account the ARN names,
    so `CopyDBSnapshot`/`CopyDBClusterSnapshot` of a shared snapshot in the target account fails
    with `DBSnapshotNotFound`. This looks the snapshot up in the account the ARN names and, as on
    AWS, only if that account shared it with the caller (attribute `restore`).
    """
    from moto.rds import models

    backend_cls = models.RDSBackend
    if getattr(backend_cls.get_snapshot, "_wavectl_cross_account", False):
        return
    original = backend_cls.get_snapshot

    def get_snapshot(self: Any, identifier: str, resource_type: Any, not_found_exception: Any) -> Any:
        if not identifier.startswith("arn"):
            return original(self, identifier, resource_type, not_found_exception)
        region, account, _, name = models.split_arn(identifier)
        if account == self.account_id:
            return original(self, identifier, resource_type, not_found_exception)
        snapshots = models.rds_backends[account][region].resource_map[resource_type]
        snapshot = snapshots.get(name)
        shared_with = snapshot.attributes.get("restore", []) if snapshot is not None else []
        if snapshot is None or not ({self.account_id, "all"} & set(shared_with)):
            raise not_found_exception(identifier)
        return snapshot

    get_snapshot._wavectl_cross_account = True  # type: ignore[attr-defined]
    backend_cls.get_snapshot = get_snapshot


def allow_enabling_the_data_api() -> None:
    """Give moto the RDS `EnableHttpEndpoint` call (idempotent, process-wide).

    moto 5.2.5 does not implement it, and only turns the Data API on for a few Aurora Serverless v1
    versions. The built-in verify hook enables the Data API on the restored cluster with this call,
    as on AWS; here it marks the cluster `HttpEndpointEnabled`.
    """
    from moto.rds import models, responses

    response_cls = responses.RDSResponse
    if getattr(response_cls, "enable_http_endpoint", None) is not None:
        return

    def enable_http_endpoint(self: Any) -> Any:
        arn = self.params.get("ResourceArn")
        identifier = arn.rsplit(":", 1)[-1]
        backend = self.backend
        if identifier not in backend.clusters:
            raise models.DBClusterNotFoundError(identifier)
        backend.clusters[identifier]._enable_http_endpoint = True
        return responses.ActionResult({"ResourceArn": arn, "HttpEndpointEnabled": True})

    response_cls.enable_http_endpoint = enable_http_endpoint
