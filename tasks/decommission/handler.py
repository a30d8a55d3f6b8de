"""Lambda entries of the `decommission` tasks: parse the event, call one logic function, return.

Every event carries `execution` (the execution name; names, evidence keys and ownership tags derive
from it). The wave's section comes from the function's environment (`WAVECTL_DECOMMISSION_SPEC`).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from tasks.common.aws import own_session
from tasks.common.errors import Aborted
from tasks.common.logging import logger
from tasks.common.settings import setting
from tasks.contracts import ENV_APPROVALS_TABLE
from tasks.decommission import cooloff, delete, disable, evidence, inventory, retention, usage
from tasks.decommission.estate import reach_from_settings, run_from
from tasks.decommission.spec import wave_spec


@cache
def _dynamodb() -> Any:
    """The function's own DynamoDB client, kept across the cool-off's many looks (warm invocations)."""
    return own_session().client("dynamodb")


def _log(task: str, event: dict[str, Any]) -> None:
    logger().info(task, extra={"execution": event.get("execution")})


def _items(event: dict[str, Any]) -> list[dict[str, Any]]:
    return list(event["inventory"]["items"])


def take_inventory(event: dict[str, Any], context: Any) -> dict[str, Any]:
    _log("inventory", event)
    run = run_from(event)
    result = inventory.take(reach_from_settings("inventory"), wave_spec(event))
    return {**result, "evidence_key": evidence.write(run, "inventory", result)}


def prove_unused(event: dict[str, Any], context: Any) -> dict[str, Any]:
    _log("usage proof", event)
    run = run_from(event)
    try:
        result = usage.prove(reach_from_settings("usage"), wave_spec(event), _items(event))
    except Exception as exc:
        evidence.write(run, "usage-proof-failed", {"error": str(exc)})
        raise
    return {**result, "evidence_key": evidence.write(run, "usage-proof", result)}


def retain(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """One round of retention copies (the first round plans them from the inventory)."""
    _log("retention round", event)
    spec = {**wave_spec(event), "wave": run_from(event).wave}
    state = event.get("retention") or retention.plan(spec, _items(event))
    return retention.advance(reach_from_settings("retain"), run_from(event), state)


def verify_retention(event: dict[str, Any], context: Any) -> dict[str, Any]:
    _log("verify retention", event)
    run = run_from(event)
    try:
        result = retention.verify(reach_from_settings("verify"), run, event["retention"])
    except Exception as exc:
        evidence.write(run, "retention-failed", {"error": str(exc)})
        raise
    return {**result, "evidence_key": evidence.write(run, "retention", result)}


def disable_resources(event: dict[str, Any], context: Any) -> dict[str, Any]:
    _log("disable", event)
    run = run_from(event)
    records = disable.disable_all(reach_from_settings("disable"), _items(event), evidence.keeper(run))
    result = {"records": records, "count": len(records)}
    return {**result, "evidence_key": evidence.write(run, "disabled", result)}


def check_abort(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """One look for `wavectl abort` during the cool-off, and the next wait."""
    signal = cooloff.abort_signal(
        own_session().client("dynamodb"), setting(ENV_APPROVALS_TABLE), event["execution_arn"]
    )
    return cooloff.check(signal, wave_spec(event), event.get("cool_off"))


def restore_resources(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Put every disabled resource back; on an abort, fail the wave `Wavectl.Aborted` after recording it."""
    _log("restore", event)
    run = run_from(event)
    records = (event.get("disabled") or {}).get("records") or []
    restored = disable.restore_all(reach_from_settings("restore"), records)
    signal = (event.get("cool_off") or {}).get("signal")
    outcome = {"restored": restored, "abort": signal, "error": event.get("error")}
    key = evidence.write(run, "aborted" if signal else "restored", outcome)
    if signal:
        raise Aborted(
            f"aborted during the cool-off by {signal.get('by')} at {signal.get('at')}"
            + (f" ({signal['reason']})" if signal.get("reason") else "")
            + f"; {sum(1 for r in restored if r['restored'])} of {len(restored)} resource(s) restored "
            f"(evidence {key})"
        )
    return {"restored": restored, "evidence_key": key}


def delete_approved(event: dict[str, Any], context: Any) -> dict[str, Any]:
    _log("delete round", event)
    result = delete.delete_round(
        reach_from_settings("delete"), wave_spec(event), _items(event), event.get("deletion")
    )
    if result["status"] == delete.STATUS_DONE:
        result["evidence_key"] = evidence.write(run_from(event), "deleted", result)
    return result


def counts(event: dict[str, Any]) -> dict[str, int]:
    deletion = event.get("deletion") or {}
    copies = event.get("retention_verified") or {}
    return {
        "in_scope": int((event.get("inventory") or {}).get("count", 0)),
        "retained": len(copies.get("databases", [])) + len(copies.get("buckets", [])),
        "disabled": int((event.get("disabled") or {}).get("count", 0)),
        "deleted": len(deletion.get("deleted", [])),
        "left": len(deletion.get("left", [])),
    }


def record_evidence(event: dict[str, Any], context: Any) -> dict[str, Any]:
    _log("record evidence", event)
    run = run_from(event)
    summary = {"counts": counts(event), "left": (event.get("deletion") or {}).get("left", [])}
    key = evidence.write(
        run, "succeeded", {**summary, "request": event.get("request"), "approvals": event.get("approvals")}
    )
    return {**summary, "evidence_key": key}


def compensate(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """After a failure or rejection: restore what was disabled (nothing was deleted before the final
    gate), record it, and give the cause the final Fail raises."""
    state = {**(event.get("state") or {}), **{k: v for k, v in event.items() if k != "state"}}
    logger().warning("compensating", extra={"execution": state.get("execution"), "error": state.get("error")})
    run = run_from(state)
    records = (state.get("disabled") or {}).get("records") or []
    restored = disable.restore_all(reach_from_settings("compensate"), records)
    error = state.get("error") or {}
    not_restored = [r["id"] for r in restored if not r["restored"] and not r.get("gone")]
    cause = str(error.get("Cause") or error.get("Error") or "the wave failed")
    if not_restored:
        cause += f" | NOT restored (restore by hand): {', '.join(not_restored)}"
    key = evidence.write(run, "compensated", {"error": error, "restored": restored, "counts": counts(state)})
    return {"restored": restored, "cause": cause, "evidence_key": key, "counts": counts(state)}


def summarise(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The approvers' message for a gate: what is in scope, the usage proof, the retention copies."""
    return {"text": gate_text(event)}


def gate_text(event: dict[str, Any]) -> str:
    wave, gate = event.get("wave") or {}, event.get("gate")
    usage_proof = event.get("usage") or {}
    lines = [
        f"*Decommission {wave.get('name')} v{wave.get('version')}* in account {wave.get('source_account')}.",
        f"*Inventory:* {(event.get('inventory') or {}).get('summary')}.",
        f"*Usage proof* ({str(usage_proof.get('from', ''))[:10]} to {str(usage_proof.get('to', ''))[:10]}): "
        f"{usage_proof.get('summary')}.",
        f"*Retention copies, verified:* {(event.get('retention_verified') or {}).get('summary')}.",
    ]
    if gate == "decommission":
        lines.append(
            "*If approved:* every resource is disabled (previous state recorded) for a "
            f"{wave.get('cool_off')} cool-off; `wavectl abort {wave.get('name')}` restores them. "
            "A final approval then deletes them."
        )
    else:
        disabled = (event.get("disabled") or {}).get("count", 0)
        lines.append(
            f"*Disabled:* {disabled} resource(s), cool-off over without an abort. *If approved:* the "
            "approved inventory is deleted (anything tagged into scope since is left and reported)."
        )
    return "\n".join(lines)
