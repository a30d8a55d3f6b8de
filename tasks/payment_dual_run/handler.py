"""Lambda entries of the `payment-dual-run` tasks: parse the event, call one logic function, return.

Every event carries `execution` (the execution ARN): evidence keys derive from its name.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tasks.common.aws import own_session
from tasks.common.evidence import put_once
from tasks.common.logging import logger
from tasks.common.settings import setting
from tasks.contracts import (
    DUAL_RUN_OUTPUT_KEY,
    ENV_APPROVALS_TABLE,
    ENV_EVIDENCE_BUCKET,
    ENV_KMS_KEY,
    ENV_WAVE,
    PRIMARY_NEW,
    PRIMARY_OLD,
)
from tasks.payment_dual_run import cycles, daily, notify, partitioned, waits
from tasks.payment_dual_run.estate import Estate
from tasks.payment_dual_run.files import file_locations, missing_at_deadline, object_exists
from tasks.payment_dual_run.preflight import run_preflight
from tasks.payment_dual_run.spec import wave_spec


def _estate(event: dict[str, Any], task: str) -> Estate:
    logger().info(
        task, extra={"execution": event.get("execution"), "cycle": (event.get("cycle") or {}).get("index")}
    )
    return Estate(wave_spec(event), task)


def _execution(event: dict[str, Any]) -> str:
    return str(event["execution"]).rsplit(":", 1)[-1]


def _write(event: dict[str, Any], name: str, body: dict[str, Any]) -> str:
    wave = setting(ENV_WAVE)
    return put_once(
        own_session().client("s3"),
        bucket=setting(ENV_EVIDENCE_BUCKET),
        key=f"waves/{wave}/{_execution(event)}/payment-dual-run/{name}.json",
        document={"type": "wavectl.payment-dual-run", "schema_version": 1, "wave": wave, **body},
        kms_key=setting(ENV_KMS_KEY, "") or None,
    )


def preflight(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return run_preflight(_estate(event, "preflight"))


def bridge_on(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Switch the bridge on: enable its inbound rule (idempotent)."""
    estate = _estate(event, "bridge-on")
    estate.events().enable_rule(Name=estate.inbound_rule)
    return {"rule": estate.inbound_rule, "state": estate.rule_state()}


def _exists(estate: Estate):
    def exists(side: str, bucket: str, key: str) -> bool:
        return object_exists(estate.s3_for(side), bucket, key)

    return exists


def _file_waits() -> waits.FileWaits:
    session = own_session()
    return waits.FileWaits(
        session.resource("dynamodb").Table(setting(ENV_APPROVALS_TABLE)), session.client("stepfunctions")
    )


def wait_files(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """`waitForTaskToken`: keep the token server-side, then look for files that came before the wait.
    The token is never logged (`_estate` logs the execution and the cycle only)."""
    estate, cycle = _estate(event, "files"), event["cycle"]
    files = file_locations(estate.spec, cycle["day"])
    return waits.register_and_look(
        _file_waits(),
        str(event["execution"]),
        int(cycle["index"]),
        files,
        str(event["task_token"]),
        _exists(estate),
        datetime.now(UTC),
    )


def arrival(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """An S3 "Object Created" event of a day's file (EventBridge): resume the waits it completes."""
    detail = event.get("detail") or {}
    logger().info(
        "file arrived",
        extra={
            "bucket": (detail.get("bucket") or {}).get("name"),
            "key": (detail.get("object") or {}).get("key"),
        },
    )
    return {"waits": waits.on_object_created(_file_waits(), event)}


def check(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The wait timed out: FilesMissing naming what is missing (or go on if both came at the deadline)."""
    estate = _estate(event, "files")
    return missing_at_deadline(estate.spec, event["cycle"], _exists(estate))


def reconcile(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The day in this one function (the plan found it small enough)."""
    estate, cycle = _estate(event, "reconcile"), event["cycle"]
    prefix = daily.evidence_prefix(setting(ENV_WAVE), _execution(event), cycle)
    return _posted(event, cycle, daily.reconcile_cycle(estate, cycle, prefix))


def _posted(event: dict[str, Any], cycle: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    """summary.txt in the wave's Slack thread; the result without it (the gate gets its own summary)."""
    verdict = "clean" if result["clean"] else "NOT clean"
    result["slack_ts"] = notify.post(
        f"Payment dual run, business day {cycle['day']} (cycle {cycle['index']}, {cycle['phase']}): "
        f"{verdict}.\n{result.pop('summary_text')}",
        execution=str(event["execution"]),
        what=f"cycle {cycle['index']} reconciled",
    )
    return result


def plan(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Sizes of the day's files: one function, or hash partitions in a Distributed Map."""
    return partitioned.plan(_estate(event, "plan"), event["cycle"])


def partition(event: dict[str, Any], context: Any) -> dict[str, Any]:
    estate, cycle = _estate(event, "partition"), event["cycle"]
    return partitioned.partition_day(estate, cycle, _execution(event), int(event["partitions"]))


def reconcile_partition(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """One item of the Distributed Map."""
    estate = Estate(wave_spec(event), "reconcile-partition")
    return partitioned.reconcile_partition(estate, str(event["prefix"]), int(event["index"]))


def merge(event: dict[str, Any], context: Any) -> dict[str, Any]:
    estate, cycle = _estate(event, "merge"), event["cycle"]
    evidence = daily.evidence_prefix(setting(ENV_WAVE), _execution(event), cycle)
    result = partitioned.merge_day(estate, cycle, str(event["prefix"]), int(event["partitions"]), evidence)
    return _posted(event, cycle, result)


def advance(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Record the cycle (verdict, approvers of accepted breaks) and compute the next one."""
    spec, cycle, result = wave_spec(event), event["cycle"], event["result"]
    approval = event.get("approval") or {}
    accepted = approval if approval.get("decision") == "approved" else None  # breaks accepted at the gate
    record = {
        "cycle": {k: cycle[k] for k in ("index", "phase", "day")},
        "clean": bool(result["clean"]),
        "accepted_with_exceptions": accepted,
        "counts": result.get("counts"),
        "evidence_prefix": result.get("evidence_prefix"),
    }
    _write(event, f"cycle-{int(cycle['index']):02d}-{cycle['day']}", record)
    history = [*event.get("history", []), record]
    return {"cycle": cycles.advance(spec, cycle, bool(result["clean"])), "history": history}


def switch_primary(event: dict[str, Any], context: Any) -> dict[str, Any]:
    estate = _estate(event, "switch")
    before = estate.read_flag()
    estate.set_flag(PRIMARY_NEW)
    notify.post(
        f"Payment dual run: primary switched from {before} to {PRIMARY_NEW} ({estate.spec['primary_flag']}).",
    )
    return {"before": before, "after": PRIMARY_NEW}


def rollback(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Compensation: the flag back to old if it was switched, the bridge off if the runbook says so;
    Slack; evidence. Returns the error the final Fail raises, its cause saying what was done."""
    estate, error = _estate(event, "rollback"), event.get("error") or {}
    flag = estate.read_flag()
    done = []
    if flag == PRIMARY_NEW:
        estate.set_flag(PRIMARY_OLD)
        done.append(f"primary flag {estate.spec['primary_flag']} set back to {PRIMARY_OLD}")
    else:
        done.append(f"primary flag {estate.spec['primary_flag']} still {flag}")
    if estate.spec.get("switch_bridge_off_on_rollback"):
        estate.events().disable_rule(Name=estate.inbound_rule)
        done.append("payment bridge switched off")
    else:
        done.append("payment bridge left on (runbook)")
    reason = str(error.get("Cause") or error.get("Error") or "the wave failed")
    cause = f"{reason} -- {'; '.join(done)}"
    notify.post(f"Payment dual run stopped: {cause}")
    _write(event, "rollback", {"error": error, "actions": done, "history": event.get("history", [])})
    return {"Error": str(error.get("Error") or "Wavectl.TaskFailed"), "Cause": cause[:32000]}


def record_evidence(event: dict[str, Any], context: Any) -> dict[str, Any]:
    history = event.get("history", [])
    key = _write(event, "dual-run-succeeded", {"request": event.get("request"), "cycles": history})
    clean = sum(1 for h in history if h["clean"])
    return {
        "evidence_key": key,
        DUAL_RUN_OUTPUT_KEY: {"cycles": history},
        "summary": f"{len(history)} cycle(s), {clean} clean; primary is {PRIMARY_NEW}",
    }
