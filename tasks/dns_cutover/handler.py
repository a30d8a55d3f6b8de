"""Lambda entries of the `dns-cutover` tasks: parse the event, call one logic function, return.

Every event carries `execution` (the execution ARN or name): evidence keys derive from it, so a
retried task finds what it already wrote.
"""

from __future__ import annotations

from typing import Any

from tasks.common.aws import own_session
from tasks.common.logging import logger
from tasks.common.settings import setting
from tasks.contracts import ENV_APPROVALS_TABLE, Decision
from tasks.dns_cutover import evidence, notify, steps
from tasks.dns_cutover.preflight import run_preflight
from tasks.dns_cutover.reach import reach_from_settings, run_from
from tasks.dns_cutover.route53 import all_record_sets
from tasks.dns_cutover.spec import wave_spec

WINDOW_GATE = "close-rollback-window"


def _log(task: str, event: dict[str, Any], **extra: Any) -> None:
    logger().info(task, extra={"execution": event.get("execution"), **extra})


def preflight(event: dict[str, Any], context: Any) -> dict[str, Any]:
    _log("preflight", event)
    return run_preflight(reach_from_settings("preflight"), wave_spec(event))


def lower_ttl(event: dict[str, Any], context: Any) -> dict[str, Any]:
    _log("lower ttl", event)
    return steps.lower_ttl(reach_from_settings("lower-ttl"), wave_spec(event), run_from(event))


def shift(event: dict[str, Any], context: Any) -> dict[str, Any]:
    _log("shift", event, index=event["index"])
    return steps.shift(reach_from_settings("shift"), wave_spec(event), run_from(event), int(event["index"]))


def watch(event: dict[str, Any], context: Any) -> dict[str, Any]:
    state = event["watch"]
    execution = str(event["execution"])

    def window_gate_decided() -> bool:
        from tasks.approvals.store import ApprovalStore

        table = own_session().resource("dynamodb").Table(setting(ENV_APPROVALS_TABLE))
        record = ApprovalStore(table).for_gate(execution, WINDOW_GATE)
        return bool(record) and record.get("status") != Decision.PENDING.value

    return steps.watch(
        reach_from_settings("watch"), wave_spec(event), run_from(event), state, decided=window_gate_decided
    )


def window(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The watch of the rollback window (alarms keep being watched while the window gate is open)."""
    checks = (event.get("watch") or {}).get("health_checks")
    return {"watch": steps.new_watch(wave_spec(event), "window", 100, health_checks=checks)}


def close_window(event: dict[str, Any], context: Any) -> dict[str, Any]:
    _log("close window", event)
    originals = (event.get("ttl") or {}).get("original_ttls") or {}
    return steps.close_window(reach_from_settings("close"), wave_spec(event), run_from(event), originals)


def rollback(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Compensation: old = 100 / new = 0 on every record (idempotent), Slack, evidence; the cause the
    final Fail state raises."""
    error = event.get("error") or {}
    logger().warning("rolling back", extra={"execution": event.get("execution"), "error": error.get("Error")})
    spec, run = wave_spec(event), run_from(event)
    originals = (event.get("ttl") or {}).get("original_ttls")
    result = steps.rollback(reach_from_settings("rollback"), spec, run, originals)
    if result["changed"] or error.get("Error") == "Wavectl.AlarmTripped":
        result["slack_ts"] = notify.post_rollback(run.wave, error, result)
    cause = str(error.get("Cause") or error.get("Error") or "the wave failed")
    return {**result, "cause": cause}


def record_evidence(event: dict[str, Any], context: Any) -> dict[str, Any]:
    _log("record evidence", event)
    spec, run = wave_spec(event), run_from(event)
    zone = steps.Zone.of(reach_from_settings("evidence"), spec)
    body = {
        "outcome": event.get("outcome", "succeeded"),
        "request": event.get("request"),
        "preflight": event.get("preflight"),
        "ttl": event.get("ttl"),
        "close": event.get("close"),
        "final_record_sets": zone.record_sets(),
        "zone_record_count": len(all_record_sets(zone.client, zone.id)),
    }
    key = evidence.write(run, f"dns-cutover-{body['outcome']}", body)
    return {"evidence_key": key, "summary": weights_summary(zone.pairs())}


def weights_summary(pairs: list) -> str:
    """`weights reached: api.example.com new 100% (old removed), ...` for status pages."""
    parts = []
    for pair in pairs:
        weights = pair.weights()
        old = "old removed" if pair.old is None and pair.plain is None else f"old {weights['old']}%"
        parts.append(f"{pair.record['name']} new {weights['new']}% ({old})")
    return "weights reached: " + ", ".join(parts)
