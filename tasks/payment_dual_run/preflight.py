"""Read-only checks before the dual run, every problem at once (Wavectl.PreflightFailed)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from tasks.common.errors import PreflightFailed
from tasks.contracts import PRIMARY_OLD
from tasks.payment_dual_run.cycles import first_cycle
from tasks.payment_dual_run.estate import Estate


def _bucket_problem(s3: Any, bucket: str, what: str) -> str | None:
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as exc:
        return f"{what} bucket {bucket} cannot be reached ({exc.response['Error'].get('Code', 'error')})"
    return None


def problems(estate: Estate) -> list[str]:
    spec = estate.spec
    found: list[str] = []
    state = estate.rule_state()
    if state is None:
        found.append(f"the payment bridge is not deployed: no EventBridge rule {estate.inbound_rule}")
    elif state != "DISABLED":
        found.append(
            f"the payment bridge is switched on (rule {estate.inbound_rule} is {state}); switch it off"
        )
    own_s3 = estate.client("own", "s3")
    for role, name in spec["bridge_buckets"].items():
        found.append(_bucket_problem(own_s3, name, f"bridge {role}") or "")
    found.append(
        _bucket_problem(estate.s3_for("old"), spec["old"]["bucket"], "old platform's settlement") or ""
    )
    found.append(_connector_problem(estate) or "")
    flag = estate.read_flag()
    if flag != PRIMARY_OLD:
        found.append(f"primary flag {spec['primary_flag']} reads {flag!r}, not {PRIMARY_OLD!r}")
    return [p for p in found if p]


def _connector_problem(estate: Estate) -> str | None:
    connector = estate.connector_id()
    if not connector:
        return f"the bridge's transfer function {estate.transfer_function} names no SFTP connector"
    transfer = estate.client("own", "transfer")
    try:
        transfer.describe_connector(ConnectorId=connector)
    except ClientError as exc:
        return f"SFTP connector {connector} cannot be read ({exc.response['Error'].get('Code', 'error')})"
    return None


def run_preflight(estate: Estate) -> dict[str, Any]:
    found = problems(estate)
    if found:
        raise PreflightFailed(f"{len(found)} problem(s): " + "; ".join(found))
    spec = estate.spec
    cycle = first_cycle(spec)
    return {
        "first": cycle,
        "summary": (
            f"Start the payment dual run: switch the payment bridge on, then reconcile each business day "
            f"from {cycle['day']} (old platform primary). The switch of {spec['primary_flag']} to new needs "
            f"{spec['required_clean_cycles']} clean day(s) in a row and its own approval."
        ),
    }
