"""Lambda entries of the `db-snapshot-copy` tasks: parse the event, call one logic function, return.

Every event carries `execution` (the Step Functions execution name): names and ownership tags
derive from it, so a retried or redriven task finds what it already made.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from tasks.common.aws import own_session
from tasks.common.estate import Estate, run_from
from tasks.common.estate import estate_from_settings as new_estate
from tasks.common.logging import logger
from tasks.common.settings import setting
from tasks.contracts import ENV_SOURCE_ROLE_ARN, ENV_TARGET_ROLE_ARN, ENV_WAVE, warm_generation
from tasks.db_snapshot_copy import children, evidence, failures, steps
from tasks.db_snapshot_copy import cleanup as cleanup_logic
from tasks.db_snapshot_copy.preflight import run_preflight
from tasks.db_snapshot_copy.spec import wave_databases
from tasks.db_snapshot_copy.verify import capture_at_snapshot, load_hook, verify_database

ESTATE_TTL_SECONDS = 600  # assumed-role credentials last an hour; a warm function re-assumes well before
_estates: dict[tuple[str, ...], tuple[float, Estate]] = {}
_estates_lock = threading.Lock()


def estate_from_settings(task: str) -> Estate:
    """The function's sessions into the source and target accounts, kept while the function is warm.

    A poll runs every few minutes for hours: assuming both roles and building clients anew each time
    cost more than the Describe* call itself. Keyed by the roles and wave, so a changed setting
    never reuses another function's sessions.
    """
    key = (task, setting(ENV_SOURCE_ROLE_ARN), setting(ENV_TARGET_ROLE_ARN), setting(ENV_WAVE),
           str(warm_generation()))  # fmt: skip
    now = time.monotonic()
    with _estates_lock:
        cached = _estates.get(key)
        if cached is None or cached[0] < now:
            cached = (now + ESTATE_TTL_SECONDS, new_estate(task))
            _estates[key] = cached
    return cached[1]


def _log(task: str, event: dict[str, Any]) -> None:
    db = event.get("db") or {}
    logger().info(task, extra={"execution": event.get("execution"), "database": db.get("id")})


def preflight(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Check every database; the Map's items (one per database) go to the evidence bucket, and the
    state gets their count and location only (500 databases' items exceed a state's 256 KiB)."""
    _log("preflight", event)
    run = run_from(event)
    found = run_preflight(
        estate_from_settings("preflight"), run, wave_databases(event), event.get("residency", {})
    )
    items = evidence.write_items(own_session().client("s3"), run, found["databases"])
    return {"count": found["count"], "items": items}


def create_snapshot(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Capture the comparison queries' source numbers, then start the snapshot: the numbers are the
    snapshot's, as near as one task can take them (a retry after the snapshot exists takes them again)."""
    _log("create source snapshot", event)
    estate = estate_from_settings("snapshot")
    captured = capture_at_snapshot(event["db"], load_hook(estate))
    job = steps.start_source_snapshot(estate, run_from(event), event["db"])
    return {**job, "captured": captured}


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
    estate = estate_from_settings("verify")
    return verify_database(estate, event["db"], load_hook(estate), event.get("captured"))


def record_database(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """One database's full record to the evidence bucket; the wave keeps only its small result."""
    _log("record database evidence", event)
    run = run_from(event)
    return evidence.write_database_record(own_session().client("s3"), run, event)


def summarise(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The acceptance gate's text and the copies record, from each database's own evidence record."""
    _log("summarise the copies", event)
    return evidence.summarise_copies(
        own_session().client("s3"), run_from(event), event["items"], event.get("map_run")
    )


def cleanup(event: dict[str, Any], context: Any) -> dict[str, Any]:
    _log("clean up", event)
    return cleanup_logic.cleanup(estate_from_settings("cleanup"), run_from(event), wave_databases(event))


def compensate(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """One round of undoing this execution; the workflow calls it again while `status` is in-progress.

    `previous` is the last round's result (absent on the first round). A database is only cleaned
    up once its own workflow execution has ended (and, when it was stopped, once its last task can
    no longer be running), so no sibling can create something after compensation looked. The final
    round (nothing pending, or the round bound reached) records the compensation as evidence and
    gives the error and cause the final Fail raises (plus what is still left, if anything).
    """
    logger().warning("compensating", extra={"execution": event.get("execution"), "error": event.get("error")})
    run, databases = run_from(event), wave_databases(event)
    previous = event.get("previous") or {}
    rounds = int(previous.get("round", 0)) + 1
    waited = int(previous.get("waited_seconds", 0)) + int(previous.get("wait_seconds", 0))
    watch = children.watch(own_session().client("stepfunctions"), event, run, databases, previous, waited)
    report = cleanup_logic.compensate(estate_from_settings("compensate"), run, watch.ended)
    report["pending"] = watch.pending + report["pending"]
    for key in ("deleted", "unshared"):  # what earlier rounds did stays on the record
        report[key] = list(previous.get(key, [])) + report[key]
    status = cleanup_logic.round_status(report, rounds)
    result: dict[str, Any] = {**report, "round": rounds, "status": status, "waited_seconds": waited,
                              "children": watch.states}  # fmt: skip
    if status == cleanup_logic.STATUS_IN_PROGRESS:
        return {**result, "wait_seconds": cleanup_logic.round_wait_seconds(rounds)}
    error, cause = failures.original_error(event.get("error") or {}, watch.states)
    result["error"] = error
    result["cause"] = failures.final_cause(cause, report, rounds, status)
    named = {"Error": error, "Cause": cause, "caught": event.get("error")}  # the database's own error
    record = evidence.build_record(
        run, "compensated", {**event, "error": named, "databases": databases, "compensation": result}
    )
    return {
        **result,
        "wait_seconds": 0,
        "evidence_key": evidence.write_record(own_session().client("s3"), run, record),
    }


def report_failure(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """A compensation or cleanup that failed: an evidence record and a post in the wave's channel."""
    logger().error("failure report", extra={"execution": event.get("execution"), "outcome": event["outcome"]})
    run = run_from(event)
    record = evidence.build_record(run, event["outcome"], {**event, "databases": []})
    key = evidence.write_record(own_session().client("s3"), run, record)
    return {"evidence_key": key, "slack": failures.post(run, event, key)}


def record_evidence(event: dict[str, Any], context: Any) -> dict[str, Any]:
    _log("record evidence", event)
    run = run_from(event)
    record = evidence.build_record(run, "succeeded", {**event, "databases": event.get("databases") or []})
    return {"key": evidence.write_record(own_session().client("s3"), run, record)}
