"""Lambda entries of the `db-snapshot-copy` tasks: parse the event, call one logic function, return.

Every event carries `execution` (the Step Functions execution name): names and ownership tags
derive from it, so a retried or redriven task finds what it already made.
"""

from __future__ import annotations

from typing import Any

from tasks.common.aws import own_session
from tasks.common.logging import logger
from tasks.db_snapshot_copy import cleanup as cleanup_logic
from tasks.db_snapshot_copy import evidence, steps
from tasks.db_snapshot_copy.estate import estate_from_settings, run_from
from tasks.db_snapshot_copy.preflight import run_preflight
from tasks.db_snapshot_copy.spec import wave_databases
from tasks.db_snapshot_copy.verify import load_hook, verify_database


def _log(task: str, event: dict[str, Any]) -> None:
    db = event.get("db") or {}
    logger().info(task, extra={"execution": event.get("execution"), "database": db.get("id")})


def preflight(event: dict[str, Any], context: Any) -> dict[str, Any]:
    _log("preflight", event)
    return run_preflight(
        estate_from_settings("preflight"), run_from(event), wave_databases(event), event.get("residency", {})
    )


def create_snapshot(event: dict[str, Any], context: Any) -> dict[str, Any]:
    _log("create source snapshot", event)
    return steps.start_source_snapshot(estate_from_settings("snapshot"), run_from(event), event["db"])


def copy_snapshot(event: dict[str, Any], context: Any) -> dict[str, Any]:
    _log("copy under the shared key", event)
    return steps.start_shared_copy(estate_from_settings("copy"), run_from(event), event["db"])


def share(event: dict[str, Any], context: Any) -> dict[str, Any]:
    _log("share with the target account", event)
    return steps.share(estate_from_settings("share"), run_from(event), event["db"])


def copy_to_target(event: dict[str, Any], context: Any) -> dict[str, Any]:
    _log("copy into the target account", event)
    shared_arn = event["share"]["snapshot_arn"]
    return steps.start_target_copy(
        estate_from_settings("copy-target"), run_from(event), event["db"], shared_arn
    )


def restore(event: dict[str, Any], context: Any) -> dict[str, Any]:
    _log("restore in the target account", event)
    return steps.start_restore(estate_from_settings("restore"), run_from(event), event["db"])


def poll(event: dict[str, Any], context: Any) -> dict[str, Any]:
    job = event["job"]
    logger().info("poll", extra={"execution": event.get("execution"), "step": job["step"], "id": job["id"]})
    return steps.poll(estate_from_settings("poll"), job)


def verify(event: dict[str, Any], context: Any) -> dict[str, Any]:
    _log("verify", event)
    return verify_database(estate_from_settings("verify"), event["db"], load_hook())


def cleanup(event: dict[str, Any], context: Any) -> dict[str, Any]:
    _log("clean up", event)
    return cleanup_logic.cleanup(estate_from_settings("cleanup"), run_from(event), wave_databases(event))


def compensate(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Undo this execution, then record the compensation as evidence (the error is re-raised by ASL)."""
    logger().warning("compensating", extra={"execution": event.get("execution"), "error": event.get("error")})
    run, databases = run_from(event), wave_databases(event)
    report = cleanup_logic.compensate(estate_from_settings("compensate"), run, databases)
    record = evidence.build_record(
        run, "compensated", {**event, "databases": databases, "compensation": report}
    )
    return {**report, "evidence_key": evidence.write_record(own_session().client("s3"), run, record)}


def record_evidence(event: dict[str, Any], context: Any) -> dict[str, Any]:
    _log("record evidence", event)
    run = run_from(event)
    record = evidence.build_record(run, "succeeded", {**event, "databases": wave_databases(event)})
    return {"key": evidence.write_record(own_session().client("s3"), run, record)}
