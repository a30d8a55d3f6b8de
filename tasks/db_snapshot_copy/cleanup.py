"""Cleanup after acceptance, and compensation after a failure or rejection.

Both only ever delete what this execution made: a resource is deleted when it has this
execution's deterministic name *and* its `wavectl:execution` tag. Each resource is handled on
its own, so one that cannot be removed is reported and the rest still go.

On AWS deletions take minutes and some resources cannot be deleted yet (an instance still
`creating`, a cluster whose member instances are still `deleting`, a snapshot still being
copied). Compensation therefore runs in rounds: each round deletes what it can, reports what is
still in progress under `pending`, and the workflow waits (`wait_seconds`, capped backoff) and
calls it again until nothing is pending or `MAX_COMPENSATION_ROUNDS` have run.

A deletion RDS accepted is not yet a deletion done: the resource stays listed as `deleting` for
minutes. It is reported under `deleted` (asked for) and, as long as RDS still lists it, under
`deleting`, which keeps compensation going like `pending`: a compensation is `done` only once a
round finds none of this execution's resources listed any more (confirmed gone, not just asked).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from tasks.common.estate import Estate
from tasks.contracts import CompensationStatus
from tasks.db_snapshot_copy import rds
from tasks.db_snapshot_copy.naming import STAGE_SHARED, STAGE_SOURCE, STAGE_TARGET, Run

# Rounds and waits between them: 30 s doubling to a 10-minute cap, ~6 h in all (a restore of a
# large instance must finish `creating` before RDS lets it be deleted).
MAX_COMPENSATION_ROUNDS = 40
FIRST_ROUND_WAIT_SECONDS = 30
MAX_ROUND_WAIT_SECONDS = 600
STATUS_DONE = CompensationStatus.DONE.value
STATUS_IN_PROGRESS = CompensationStatus.IN_PROGRESS.value
STATUS_INCOMPLETE = CompensationStatus.INCOMPLETE.value
# a resource in one of these states is being changed by RDS: deleting it now is refused
_BUSY_CODES = {"InvalidDBInstanceState", "InvalidDBInstanceStateFault", "InvalidDBClusterStateFault",
               "InvalidDBSnapshotState", "InvalidDBSnapshotStateFault", "InvalidDBClusterSnapshotStateFault",
               "DBClusterToBeDeletedHasActiveMembers"}  # fmt: skip
_DELETABLE_INSTANCE = {"available", "failed", "stopped", "storage-full", "incompatible-parameters",
                       "incompatible-restore", "incompatible-network", "inaccessible-encryption-credentials",
                       "incompatible-option-group"}  # fmt: skip
_DELETABLE_CLUSTER = {"available", "failed", "stopped", "inaccessible-encryption-credentials",
                      "incompatible-parameters", "incompatible-restore"}  # fmt: skip
_DELETABLE_SNAPSHOT = {"available", "failed"}


class InProgress(Exception):
    """A resource that cannot be deleted yet; the next round tries again."""


class Deleting(Exception):
    """RDS accepted the resource's deletion (this round or an earlier one) and still lists it."""


class Report:
    def __init__(self) -> None:
        self.deleted: list[str] = []
        self.unshared: list[str] = []
        self.skipped: list[str] = []
        self.pending: list[str] = []
        self.deleting: list[str] = []  # deletion accepted, still listed by RDS: not confirmed gone yet
        self.left: list[str] = []

    def attempt(self, what: str, action: Callable[[], None]) -> None:
        try:
            action()
        except Deleting:
            self.deleting.append(what)
        except InProgress as busy:
            self.pending.append(f"{what}: {busy}")
        except ClientError as error:
            message = error.response["Error"].get("Message", str(error))
            if error.response["Error"].get("Code") in _BUSY_CODES:
                self.pending.append(f"{what}: {message}")
            else:
                self.left.append(f"{what}: {message}")

    def as_dict(self) -> dict[str, list[str]]:
        return {
            "deleted": self.deleted,
            "unshared": self.unshared,
            "skipped": self.skipped,
            "pending": self.pending,
            "deleting": self.deleting,
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
    status = snapshot.get("Status")
    if status == "deleting":
        raise Deleting
    if status not in _DELETABLE_SNAPSHOT:
        raise InProgress(f"is {status!r}; deleted once RDS lets it")
    api.delete(client, name)
    report.deleted.append(f"{side} snapshot {name}")
    if api.describe(client, name) is not None:
        raise Deleting


def cleanup(estate: Estate, run: Run, databases: list[dict[str, Any]]) -> dict[str, Any]:
    """After acceptance, once: each snapshot's deletion is asked for (`deleted`); how many of them RDS
    still lists as deleting is a count (`deletion_unconfirmed`), not a second list of the same names
    (it travels in the wave's state, whose size grows with the number of databases)."""
    report = Report()
    for db in databases:
        remove_snapshots(estate, run, db, report)
    result = report.as_dict()
    result["deletion_unconfirmed"] = len(result.pop("deleting"))
    return result


def compensate(estate: Estate, run: Run, databases: list[dict[str, Any]]) -> dict[str, Any]:
    """One round of undoing this execution: restored databases in the target, every snapshot and share.

    Safe to call again and again: what is gone is skipped, what cannot go yet is under `pending`.
    """
    report = Report()
    for db in databases:
        client = estate.target("rds", db["target_region"])
        report.attempt(
            f"target {db['type']} {db['id']}", lambda c=client, d=db: _remove_database(c, run, d, report)
        )
        remove_snapshots(estate, run, db, report)
    return report.as_dict()


def round_wait_seconds(completed_rounds: int) -> int:
    """Wait before the next round: 30 s after the first, doubling, capped at 10 minutes."""
    return min(MAX_ROUND_WAIT_SECONDS, FIRST_ROUND_WAIT_SECONDS * 2 ** max(completed_rounds - 1, 0))


def round_status(report: dict[str, Any], completed_rounds: int) -> str:
    """`done` only when nothing is pending, refused or still being deleted: everything is gone."""
    unfinished = bool(report["pending"] or report.get("deleting"))
    if unfinished and completed_rounds < MAX_COMPENSATION_ROUNDS:
        return STATUS_IN_PROGRESS
    return STATUS_INCOMPLETE if unfinished or report["left"] else STATUS_DONE


def _remove_database(client: Any, run: Run, db: dict[str, Any], report: Report) -> None:
    found = rds.describe_database(client, db["type"], db["id"])
    if found is None:
        return
    if not run.owns(found.get("TagList")):
        report.skipped.append(f"target {db['type']} {db['id']} (not made by this execution)")
        return
    if db["type"] == "instance":
        _delete_instance(client, db["id"], report)
        return
    members = [m["DBInstanceIdentifier"] for m in found.get("DBClusterMembers", [])]
    for member in members:
        report.attempt(f"target instance {member}", lambda m=member: _delete_instance(client, m, report))
    remaining = [m for m in members if rds.describe_instance(client, m) is not None]
    if remaining:
        raise InProgress(f"waits for its instance(s) {', '.join(remaining)} to be deleted")
    status = found.get("Status")
    if status == "deleting":
        raise Deleting
    if status not in _DELETABLE_CLUSTER:
        raise InProgress(f"is {status!r}; deleted once RDS lets it")
    if found.get("DeletionProtection"):
        client.modify_db_cluster(
            DBClusterIdentifier=db["id"], DeletionProtection=False, ApplyImmediately=True
        )
    client.delete_db_cluster(DBClusterIdentifier=db["id"], SkipFinalSnapshot=True)
    report.deleted.append(f"target cluster {db['id']}")
    if rds.describe_database(client, "cluster", db["id"]) is not None:
        raise Deleting


def _delete_instance(client: Any, identifier: str, report: Report) -> None:
    """Delete one target instance; raises `InProgress` while RDS is still busy with it."""
    found = rds.describe_instance(client, identifier)
    if found is None:
        return
    status = found.get("DBInstanceStatus")
    if status == "deleting":
        raise Deleting
    if status not in _DELETABLE_INSTANCE:
        raise InProgress(f"is {status!r}; deleted once RDS lets it")
    if found.get("DeletionProtection"):
        client.modify_db_instance(
            DBInstanceIdentifier=identifier, DeletionProtection=False, ApplyImmediately=True
        )
    client.delete_db_instance(
        DBInstanceIdentifier=identifier, SkipFinalSnapshot=True, DeleteAutomatedBackups=True
    )
    report.deleted.append(f"target instance {identifier}")
    if rds.describe_instance(client, identifier) is not None:
        raise Deleting
