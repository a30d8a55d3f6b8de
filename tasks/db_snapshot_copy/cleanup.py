"""Cleanup after acceptance, and compensation after a failure or rejection.

Both only ever delete what this execution made: a resource is deleted when it has this
execution's deterministic name *and* its `wavectl:execution` tag. Each resource is handled on
its own, so one that cannot be removed is reported and the rest still go.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from tasks.db_snapshot_copy import rds
from tasks.db_snapshot_copy.estate import Estate
from tasks.db_snapshot_copy.naming import STAGE_SHARED, STAGE_SOURCE, STAGE_TARGET, Run


class Report:
    def __init__(self) -> None:
        self.deleted: list[str] = []
        self.unshared: list[str] = []
        self.skipped: list[str] = []
        self.left: list[str] = []

    def attempt(self, what: str, action: Callable[[], None]) -> None:
        try:
            action()
        except ClientError as error:
            self.left.append(f"{what}: {error.response['Error'].get('Message', error)}")

    def as_dict(self) -> dict[str, list[str]]:
        return {
            "deleted": self.deleted,
            "unshared": self.unshared,
            "skipped": self.skipped,
            "left": self.left,
        }


def remove_snapshots(estate: Estate, run: Run, db: dict[str, Any], report: Report) -> None:
    """Unshare and delete this execution's three snapshots of `db` (source, shared, target)."""
    api = rds.SnapshotApi(db["type"])
    places = [
        ("source", estate.source("rds", db["region"]), STAGE_SOURCE),
        ("source", estate.source("rds", db["target_region"]), STAGE_SHARED),
        ("target", estate.target("rds", db["target_region"]), STAGE_TARGET),
    ]
    for side, client, stage in places:
        name = run.snapshot_name(db["id"], stage)
        report.attempt(f"{side} snapshot {name}", lambda c=client, n=name, s=side: _remove_snapshot(
            api, c, run, n, s, estate.target_account, report
        ))  # fmt: skip


def _remove_snapshot(
    api: rds.SnapshotApi, client: Any, run: Run, name: str, side: str, target_account: str, report: Report
) -> None:
    snapshot = api.describe(client, name)
    if snapshot is None:
        return
    if not run.owns(snapshot.get("TagList")):
        report.skipped.append(f"{side} snapshot {name} (not made by this execution)")
        return
    if side == "source" and target_account in api.shared_with(client, name):
        api.set_shared(client, name, target_account, shared=False)
        report.unshared.append(f"{name} from {target_account}")
    api.delete(client, name)
    report.deleted.append(f"{side} snapshot {name}")


def cleanup(estate: Estate, run: Run, databases: list[dict[str, Any]]) -> dict[str, Any]:
    report = Report()
    for db in databases:
        remove_snapshots(estate, run, db, report)
    return report.as_dict()


def compensate(estate: Estate, run: Run, databases: list[dict[str, Any]]) -> dict[str, Any]:
    """Undo this execution: restored databases in the target, then every snapshot and share."""
    report = Report()
    for db in databases:
        client = estate.target("rds", db["target_region"])
        report.attempt(
            f"target {db['type']} {db['id']}", lambda c=client, d=db: _remove_database(c, run, d, report)
        )
        remove_snapshots(estate, run, db, report)
    return report.as_dict()


def _remove_database(client: Any, run: Run, db: dict[str, Any], report: Report) -> None:
    found = rds.describe_database(client, db["type"], db["id"])
    if found is None:
        return
    if not run.owns(found.get("TagList")):
        report.skipped.append(f"target {db['type']} {db['id']} (not made by this execution)")
        return
    if db["type"] == "instance":
        _delete_instance(client, db["id"])
    else:
        for member in found.get("DBClusterMembers", []):
            _delete_instance(client, member["DBInstanceIdentifier"])
            report.deleted.append(f"target instance {member['DBInstanceIdentifier']}")
        client.modify_db_cluster(
            DBClusterIdentifier=db["id"], DeletionProtection=False, ApplyImmediately=True
        )
        client.delete_db_cluster(DBClusterIdentifier=db["id"], SkipFinalSnapshot=True)
    report.deleted.append(f"target {db['type']} {db['id']}")


def _delete_instance(client: Any, identifier: str) -> None:
    found = rds.describe_instance(client, identifier)
    if found is None:
        return
    if found.get("DeletionProtection"):
        client.modify_db_instance(
            DBInstanceIdentifier=identifier, DeletionProtection=False, ApplyImmediately=True
        )
    client.delete_db_instance(
        DBInstanceIdentifier=identifier, SkipFinalSnapshot=True, DeleteAutomatedBackups=True
    )
