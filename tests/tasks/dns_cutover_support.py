"""Fixtures for the dns-cutover task tests: moto with the zone in the source account, an alarm in
each account, the workload roles, the Route 53 gaps of the embedded AWS patched, the tasks' settings."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any
from unittest import mock

import boto3
import pytest
from moto import mock_aws

from tasks import contracts as c
from tasks.dns_cutover import handler
from tasks.dns_cutover.spec import ENV_DNS_WAVE_SPEC, encode_spec
from wavectl.local.dns_estate import seed_dns_zone
from wavectl.local.route53 import Route53Journal
from wavectl.local.seeders.db_snapshot_copy import moto_session

SOURCE, TARGET = "222222222222", "333333333333"
ACCOUNTS = {"source": SOURCE, "target": TARGET}
ROLES = {"source": "WavectlSource", "target": "WavectlTarget"}
WAVE, PROGRAM, BUCKET, EXECUTION = "api-dns", "acme-to-globex", "wavectl-evidence", "run-2026-11-29"
API, WWW = "api.acme-invest.example", "www.acme-invest.example"


def wave_spec(**overrides: Any) -> dict[str, Any]:
    spec = {
        "zone": "acme-invest.example",
        "zone_account": "source",
        "region": "eu-west-1",
        "records": [
            {
                "name": API,
                "type": "CNAME",
                "old_target": "api-old.acme-invest.example",
                "new_target": "api-globex.acme-invest.example",
            },
            {
                "name": WWW,
                "type": "CNAME",
                "old_target": "www-old.acme-invest.example",
                "new_target": "www-globex.acme-invest.example",
            },
        ],
        "steps": [10, 25, 50, 100],
        "gated_steps": [100],
        "cutover_ttl": 60,
        "bake": 900,
        "alarms": [
            {"name": "api-5xx-rate", "account": "source", "region": "eu-west-1"},
            {"name": "api-p99-latency", "account": "target", "region": "eu-west-1"},
        ],
        "alarm_poll": 30,
        "rollback_window": 86400,
        "final_ttl": None,
    }
    return {**spec, **overrides}


ALLOW_ALL = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
)


@dataclass
class Dns:
    spec: dict[str, Any]
    journal: Route53Journal
    seeded: dict[str, Any]

    @property
    def zone_id(self) -> str:
        return self.seeded["zone_id"]

    def route53(self, side: str = "source") -> Any:
        return moto_session(ACCOUNTS[side], "us-east-1").client("route53")

    def zone_dump(self) -> str:
        """Every record set of the zone, as text (byte-identical before and after a read-only task)."""
        sets = self.route53().list_resource_record_sets(HostedZoneId=self.zone_id)["ResourceRecordSets"]
        return json.dumps(sets, sort_keys=True, default=str)

    def weighted(self, name: str) -> dict[str, tuple[int, int | None]]:
        """set identifier -> (weight, ttl) of the weighted sets of `name`."""
        sets = self.route53().list_resource_record_sets(HostedZoneId=self.zone_id)["ResourceRecordSets"]
        return {
            s["SetIdentifier"]: (s["Weight"], s.get("TTL"))
            for s in sets
            if s["Name"] == name + "." and "SetIdentifier" in s
        }

    def set_alarm(self, name: str, state: str, account: str = "source") -> None:
        cloudwatch = moto_session(ACCOUNTS[account], "eu-west-1").client("cloudwatch")
        cloudwatch.set_alarm_state(AlarmName=name, StateValue=state, StateReason=f"test: {state}")

    def event(self, **extra: Any) -> dict[str, Any]:
        return {"execution": EXECUTION, **extra}

    def evidence(self) -> dict[str, dict[str, Any]]:
        s3 = boto3.client("s3", region_name="eu-west-1")
        prefix = f"waves/{WAVE}/{EXECUTION}/dns-cutover/"
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])]
        return {
            k.removeprefix(prefix).removesuffix(".json"): json.loads(
                s3.get_object(Bucket=BUCKET, Key=k)["Body"].read()
            )
            for k in keys
        }


def _roles() -> None:
    for side, account in ACCOUNTS.items():
        iam = moto_session(account, "eu-west-1").client("iam")
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "sts:AssumeRole",
                    "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
                }
            ],
        }
        iam.create_role(RoleName=ROLES[side], AssumeRolePolicyDocument=json.dumps(trust))
        iam.put_role_policy(RoleName=ROLES[side], PolicyName="wavectl", PolicyDocument=ALLOW_ALL)


def start_dns(monkeypatch: Any, spec: dict[str, Any], plain: tuple[str, ...] = (WWW,)) -> ExitStack:
    stack = ExitStack()
    stack.enter_context(mock_aws())
    journal = Route53Journal(time.monotonic)
    for target, attribute, replacement in journal.patches():
        stack.enter_context(mock.patch.object(target, attribute, replacement))
    _roles()
    seeded = seed_dns_zone(
        lambda account, service, region: moto_session(account, region).client(service),
        spec,
        ACCOUNTS,
        plain=plain,
        ttls={API: 300, WWW: 900},
    )
    boto3.client("s3", region_name="eu-west-1").create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    environment = {
        c.ENV_PROGRAM: PROGRAM,
        c.ENV_WAVE: WAVE,
        c.ENV_SOURCE_ROLE_ARN: f"arn:aws:iam::{SOURCE}:role/{ROLES['source']}",
        c.ENV_TARGET_ROLE_ARN: f"arn:aws:iam::{TARGET}:role/{ROLES['target']}",
        c.ENV_EVIDENCE_BUCKET: BUCKET,
        ENV_DNS_WAVE_SPEC: encode_spec(spec),
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv(c.ENV_KMS_KEY, raising=False)
    stack.dns = Dns(spec=spec, journal=journal, seeded=seeded)  # type: ignore[attr-defined]
    return stack


@pytest.fixture(name="dns")
def dns_fixture(monkeypatch) -> Iterator[Dns]:
    """The api (weighted pair) and www (plain record, converted by the wave) records, alarms OK."""
    with start_dns(monkeypatch, wave_spec()) as stack:
        yield stack.dns


__all__ = ["dns_fixture", "handler"]
