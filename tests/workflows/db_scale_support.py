"""A db-snapshot-copy wave of N databases in the embedded AWS, and what a test reads back from it.

The wave's definition does not depend on its databases (they travel in the preflight and
compensate functions' environment), so a bigger wave is deployed the way CloudFormation would
deploy it: the same state machines, those two functions' environment updated, the estate seeded.
"""

from __future__ import annotations

import json
from typing import Any

from stacks.workflows.db_snapshot_copy import SPEC_READERS, spec_environment
from tasks.contracts import ENV_DB_WAVE_SPEC, encode_spec
from tasks.db_snapshot_copy.naming import TAG_EXECUTION
from wavectl.kinds.db_snapshot_copy import DbSnapshotCopyWave
from wavectl.local.engine import LocalCloud
from wavectl.local.seeders import db_snapshot_copy as seeder

WAVE = "orders-db"
HISTORY_QUOTA_EVENTS = 25_000
PAYLOAD_QUOTA_BYTES = 256 * 1024
REGIONS = ("eu-west-1", "eu-central-1")
# RDS operations take 2 % of their planned time: over by the first poll (due at 2.5 %), so each long
# step of each child waits and polls once (the Wait -> Poll loop runs in the engine), without the
# dozens of polls per database a run at the planned durations would cost here.
FIRST_POLL = 0.02
# Simulated time runs 100x. The shared clock jumps to the latest end of any wait, so a faster clock
# (fast mode: 3600x) lets other children's waits carry an operation past its end within the very
# request that started it (it would then never be polled), and lets the 37th database's siblings
# finish their held restores before it fails. At 100x a 10 ms request spans 1 simulated second,
# against operations of 27 s and more; the scale tests' waits then cost seconds, not minutes.
SPEED = 100
# A run that has not ended after this many real seconds is stopped and fails its test. At load 14-22
# on the shared 2-core machine (2026-11-29) a run took up to 300 s; the faulthandler dump (pyproject:
# faulthandler_timeout) shows where a run that takes much longer sits.
RUN_TIMEOUT_SECONDS = 900


def wave_of(cloud: LocalCloud, count: int) -> DbSnapshotCopyWave:
    """orders-db with `count` instances `db-01`.. (`db-001`.. from 100), every third to eu-central-1."""
    wave = next(w for w in cloud.runbook.waves if w.wave == WAVE)
    template, width = wave.databases[0], 2 if count < 100 else 3
    databases = [
        template.model_copy(update={
            "id": f"db-{i:0{width}d}", "type": "instance", "verify": [], "verify_secret": None,
            "target_region": "eu-central-1" if i % 3 == 0 else "eu-west-1",
        })
        for i in range(1, count + 1)
    ]  # fmt: skip
    return wave.model_copy(update={"databases": databases})


def deploy_wave(cloud: LocalCloud, wave: DbSnapshotCopyWave, *, check_size: bool = True) -> None:
    """What `cdk deploy` changes for this wave: the databases in its spec readers' environment.

    `check_size=False` skips the 4 KB Lambda environment check (a benchmark of a wave too big for one
    deployment, measuring the workflow alone)."""
    lam = cloud.session.client("lambda")
    spec = spec_environment(wave) if check_size else {
        ENV_DB_WAVE_SPEC: encode_spec({"databases": [db.model_dump(mode="json") for db in wave.databases]})
    }  # fmt: skip
    for task in SPEC_READERS:
        name = f"{cloud.runbook.program.program}-{WAVE}-db-{task}"
        variables = lam.get_function_configuration(FunctionName=name)["Environment"]["Variables"]
        lam.update_function_configuration(FunctionName=name, Environment={"Variables": {**variables, **spec}})
    with cloud.rds_durations.paused():
        seeder.seed(cloud, wave)


def executions(cloud: LocalCloud) -> list[dict[str, Any]]:
    """Every execution of the wave's state machines (the wave and its per-database children)."""
    sfn = cloud.session.client("stepfunctions")
    found = []
    for machine in sfn.list_state_machines()["stateMachines"]:
        if WAVE in machine["name"]:
            for page in sfn.get_paginator("list_executions").paginate(
                stateMachineArn=machine["stateMachineArn"]
            ):
                found += page["executions"]
    return found


def history(cloud: LocalCloud, execution_arn: str) -> list[dict[str, Any]]:
    sfn = cloud.session.client("stepfunctions")
    events: list[dict[str, Any]] = []
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
        events += page["events"]
    return events


def largest_payload(events: list[dict[str, Any]]) -> int:
    """The largest state input/output or task result in a history, in bytes (UTF-8)."""
    sizes = [0]
    for event in events:
        for key, details in event.items():
            if key.endswith("EventDetails") and isinstance(details, dict):
                for field in ("input", "output"):
                    if isinstance(details.get(field), str):
                        sizes.append(len(details[field].encode()))
    return max(sizes)


def tagged_resources(cloud: LocalCloud, execution: str) -> list[str]:
    """Every RDS database and snapshot in the source and target accounts tagged with `execution`,
    whatever its status (one RDS is still `deleting` is still in the account)."""
    found = []
    for side, session_for in (("source", cloud.source_session), ("target", cloud.target_session)):
        for region in REGIONS:
            rds = session_for(region).client("rds")
            listed = [
                *[(i["DBInstanceIdentifier"], i["TagList"], i["DBInstanceStatus"])
                  for i in rds.describe_db_instances()["DBInstances"]],
                *[(c["DBClusterIdentifier"], c["TagList"], c["Status"])
                  for c in rds.describe_db_clusters()["DBClusters"]],
                *[(s["DBSnapshotIdentifier"], s["TagList"], s["Status"])
                  for s in rds.describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]],
                *[(s["DBClusterSnapshotIdentifier"], s["TagList"], s["Status"])
                  for s in rds.describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"]],
            ]  # fmt: skip
            for name, tags, status in listed:
                if {t["Key"]: t["Value"] for t in tags}.get(TAG_EXECUTION) == execution:
                    found.append(f"{side} {region} {name} ({status})")
    return found


def evidence_records(cloud: LocalCloud, execution: str) -> dict[str, dict[str, Any]]:
    s3 = cloud.session.client("s3")
    bucket = next(b["Name"] for b in s3.list_buckets()["Buckets"] if "evidence" in b["Name"])
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"waves/{WAVE}/{execution}/").get("Contents", [])
    return {
        o["Key"].split(f"{execution}/", 1)[1]: json.loads(
            s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
        )
        for o in listed
    }
