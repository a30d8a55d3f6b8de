"""Fixtures for the decommission task tests: moto with the source (Acme) and retention (Globex)
accounts, the legacy estate in scope, idle CloudWatch metrics, and the task functions' settings."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tasks import contracts as c
from tasks.common.aws import assumed_session
from tasks.decommission.estate import Reach
from tasks.decommission.spec import RESOURCE_TYPES, ROUTE53_RECORD
from wavectl.local import estate_decommission as legacy
from wavectl.local.seeders.db_snapshot_copy import (
    allow_shared_snapshot_copies,
    moto_session,
    shared_key_policy,
)

SOURCE, RETENTION = "222222222222", "333333333333"
SOURCE_ROLE = f"arn:aws:iam::{SOURCE}:role/WavectlSource"
RETENTION_ROLE = f"arn:aws:iam::{RETENTION}:role/WavectlTarget"
WAVE, PROGRAM, EVIDENCE = "decommission-acme", "acme-to-globex", "wavectl-evidence"
EXECUTION = "decom-2026-11-29"
SCOPE = ("wavectl:decommission", "acme-legacy")
DAY = 86400


def rule(bucket: str, period: str = "7y") -> dict[str, Any]:
    return {
        "account": RETENTION,
        "role_arn": RETENTION_ROLE,
        "region": "eu-west-1",
        "period": period,
        "mode": "COMPLIANCE",
        "bucket": bucket,
        "kms_key": "alias/globex-rds",
        "shared_kms_key": "alias/wavectl-share",
        "retain": True,
    }


def spec(**changes: Any) -> dict[str, Any]:
    base = {
        "regions": ["eu-west-1", "eu-central-1"],
        "tag": {"key": SCOPE[0], "value": SCOPE[1]},
        "arns": [],
        "resource_types": list(RESOURCE_TYPES),
        "protected": {"arns": [], "tag": "wavectl:protected"},
        "data_class_tag": "wavectl:data-class",
        "lookback_seconds": 30 * DAY,
        "thresholds": {},
        "accept_unproven": [ROUTE53_RECORD],
        "retention": {
            "eu-personal": rule("globex-retention-eu-personal", "5y"),
            "eu-payments": rule("globex-retention-eu-payments", "7y"),
            "public": {"retain": False},
        },
        "cool_off_seconds": 7 * DAY,
        "abort_check_seconds": DAY,
    }
    return {**base, **changes}


def session_for(account: str, region: str) -> boto3.Session:
    return moto_session(account, region)


@dataclass
class Estate:
    made: dict[str, Any]
    reach: Reach
    spec: dict[str, Any] = field(default_factory=spec)

    @property
    def in_scope(self) -> dict[str, str]:
        return self.made["in_scope"]

    def client(self, service: str, region: str = "eu-west-1", account: str = SOURCE) -> Any:
        return session_for(account, region).client(service)


def seed_orders_database() -> str:
    """The encrypted orders instance in scope, the shared key (source) and Globex's key (retention)."""
    allow_shared_snapshot_copies()
    source_kms = session_for(SOURCE, "eu-west-1").client("kms")
    source_key = source_kms.create_key(Description="acme orders")["KeyMetadata"]["Arn"]
    shared = source_kms.create_key(Description="shared", Policy=shared_key_policy(SOURCE, RETENTION))
    source_kms.create_alias(AliasName="alias/wavectl-share", TargetKeyId=shared["KeyMetadata"]["KeyId"])
    retention_kms = session_for(RETENTION, "eu-west-1").client("kms")
    globex = retention_kms.create_key(Description="globex retention")["KeyMetadata"]["KeyId"]
    retention_kms.create_alias(AliasName="alias/globex-rds", TargetKeyId=globex)
    tags = [{"Key": SCOPE[0], "Value": SCOPE[1]}, {"Key": "wavectl:data-class", "Value": "eu-personal"}]
    return (
        session_for(SOURCE, "eu-west-1")
        .client("rds")
        .create_db_instance(
            DBInstanceIdentifier="orders",
            DBInstanceClass="db.r6g.large",
            Engine="postgres",
            MasterUsername="acme",
            MasterUserPassword="local-only-password",
            AllocatedStorage=20,
            StorageEncrypted=True,
            KmsKeyId=source_key,
            Tags=tags,
        )["DBInstance"]["DBInstanceArn"]
    )


@pytest.fixture(name="estate")
def estate_fixture(monkeypatch) -> Iterator[Estate]:
    """The legacy estate in scope (plus the orders instance), idle for two days; settings for the tasks."""
    with mock_aws():
        made = legacy.seed_legacy(session_for, SOURCE, SCOPE)
        made["in_scope"]["orders"] = seed_orders_database()
        legacy.seed_retention_buckets(session_for, spec()["retention"])
        for arn in made["in_scope"].values():
            legacy.put_usage(session_for, SOURCE, arn)
        boto3.client("s3", region_name="eu-west-1").create_bucket(
            Bucket=EVIDENCE, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
        )
        for name, value in {
            c.ENV_PROGRAM: PROGRAM,
            c.ENV_WAVE: WAVE,
            c.ENV_SOURCE_ROLE_ARN: SOURCE_ROLE,
            c.ENV_TARGET_ROLE_ARN: RETENTION_ROLE,
            c.ENV_EVIDENCE_BUCKET: EVIDENCE,
        }.items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv(c.ENV_KMS_KEY, raising=False)
        reach = Reach(SOURCE, SOURCE_ROLE, lambda role, region: assumed_session(role, region, "test"))
        yield Estate(made=made, reach=reach)
