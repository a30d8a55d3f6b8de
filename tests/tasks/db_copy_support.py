"""Fixtures for the db-snapshot-copy task tests: moto with three accounts, the seeded demo estate,
the task functions' environment, and a driver that runs one database through the tasks in order."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tasks import contracts as c
from tasks.db_snapshot_copy import handler
from tasks.db_snapshot_copy.naming import Run
from tasks.db_snapshot_copy.spec import encode_databases
from wavectl.local.seeders.db_snapshot_copy import moto_session, seed_rds

SOURCE, TARGET = "222222222222", "333333333333"
WAVE, PROGRAM, BUCKET = "orders-db", "acme-to-globex", "wavectl-evidence"
EXECUTION = "run-2026-11-26"


def wave_databases(runbook) -> list[dict[str, Any]]:
    return [db.model_dump(mode="json") for db in runbook.wave(WAVE).databases]


def residency(runbook) -> dict[str, list[str]]:
    return dict(runbook.program.residency)


@pytest.fixture(name="example_runbook", scope="session")
def instance_runbook_fixture(example_runbook):
    """The example program with orders as an RDS instance (no verify queries): the tasks tier covers the
    instance path too, while the example runbook's orders is an Aurora cluster whose query really runs."""
    wave = next(w for w in example_runbook.waves if w.wave == WAVE)
    orders = wave.databases[0].model_copy(update={"type": "instance", "verify": [], "verify_secret": None})
    copied = wave.model_copy(update={"databases": [orders, *wave.databases[1:]]})
    waves = [copied if w is wave else w for w in example_runbook.waves]
    return dataclasses.replace(example_runbook, waves=waves)


@pytest.fixture(name="cloud")
def cloud_fixture(example_runbook, monkeypatch) -> Iterator[dict[str, Any]]:
    """moto with the example program's estate seeded, and the task functions' settings."""
    with mock_aws():
        c.cold_start_all()  # a new moto: no task function's warm sessions carry over
        seeded = seed_rds(example_runbook)
        boto3.client("s3", region_name="eu-west-1").create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
        )
        environment = {
            c.ENV_PROGRAM: PROGRAM,
            c.ENV_WAVE: WAVE,
            c.ENV_SOURCE_ROLE_ARN: f"arn:aws:iam::{SOURCE}:role/WavectlSource",
            c.ENV_TARGET_ROLE_ARN: f"arn:aws:iam::{TARGET}:role/WavectlTarget",
            c.ENV_EVIDENCE_BUCKET: BUCKET,
            c.ENV_DB_WAVE_SPEC: encode_databases(wave_databases(example_runbook)),
        }
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv(c.ENV_KMS_KEY, raising=False)
        yield seeded


def rds(account: str, region: str) -> Any:
    return moto_session(account, region).client("rds")


def rds_backend(account: str, region: str) -> Any:
    from moto.rds.models import rds_backends

    return rds_backends[account][region]


def snapshots(account: str, region: str, db_type: str) -> list[dict[str, Any]]:
    """Manual snapshots of one kind in one account/region (automated backups are RDS's own)."""
    client = rds(account, region)
    if db_type == "cluster":
        return client.describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"]
    return client.describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]


def preflight_items(event: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Preflight through its handler, and the Map's items as the Distributed Map reads them: from the
    evidence bucket (the state only says where, how many, and their digest)."""
    result = handler.preflight(event, None)
    ref = result["items"]
    s3 = boto3.client("s3", region_name="eu-west-1")
    raw = s3.get_object(Bucket=ref["bucket"], Key=ref["key"])["Body"].read()
    items = json.loads(raw)
    assert hashlib.sha256(raw).hexdigest() == ref["sha256"] and result["count"] == ref["count"] == len(items)
    return items, ref


def run(execution: str = EXECUTION) -> Run:
    return Run(program=PROGRAM, wave=WAVE, execution=execution)


@dataclass
class Driver:
    """Runs the wave's tasks for one database in workflow order, as the state machine would."""

    runbook: Any
    execution: str = EXECUTION
    polls: int = 0
    captured: dict[str, Any] = field(default_factory=dict)  # database -> numbers captured at snapshot

    items_ref: dict[str, Any] = field(default_factory=dict)  # where preflight wrote the Map's items

    def preflight(self) -> list[dict[str, Any]]:
        event = {"execution": self.execution, "residency": residency(self.runbook)}
        items, self.items_ref = preflight_items(event)
        return items

    def item(self, database: str) -> dict[str, Any]:
        return next(db for db in self.preflight() if db["id"] == database)

    def wait(self, job: dict[str, Any]) -> dict[str, Any]:
        while not job["ready"]:
            job = handler.poll({"execution": self.execution, "job": job}, None)
            self.polls += 1
        return job

    def call(self, task: str, db: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return getattr(handler, task)({"execution": self.execution, "db": db, **extra}, None)

    def through_restore(self, db: dict[str, Any]) -> dict[str, Any]:
        snapshot = self.call("create_snapshot", db)
        self.captured[db["id"]] = snapshot.get("captured")
        self.wait(snapshot)
        self.wait(self.call("copy_snapshot", db))
        shared = self.call("share", db)
        self.wait(self.call("copy_to_target", db, share=shared))
        return self.wait(self.call("restore", db))

    def copy(self, db: dict[str, Any]) -> dict[str, Any]:
        job = self.through_restore(db)
        verification = self.verify(db)
        return self.call("record_database", db, job=job, verification=verification,
                         captured=self.captured.get(db["id"]))  # fmt: skip

    def verify(self, db: dict[str, Any]) -> dict[str, Any]:
        return self.call("verify", db, captured=self.captured.get(db["id"]))
