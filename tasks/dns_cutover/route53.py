"""Small Route 53 adapters (each takes a client): zones, record sets, changes, health checks."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from tasks.common.errors import TaskFailed
from tasks.dns_cutover.spec import fqdn

INSYNC = "INSYNC"
INSYNC_TIMEOUT_SECONDS = 600  # Route 53 propagates in about a minute; the task function allows 15
INSYNC_POLL_SECONDS = 5


def _iso(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def find_zone(route53: Any, zone: str) -> dict[str, Any] | None:
    """The hosted zone by id (`Z...`) or by name; None if this account has no such zone."""
    if "." not in zone.rstrip("."):
        try:
            return route53.get_hosted_zone(Id=zone)["HostedZone"]
        except route53.exceptions.NoSuchHostedZone:
            return None
    found = route53.list_hosted_zones_by_name(DNSName=fqdn(zone), MaxItems="1")["HostedZones"]
    return found[0] if found and fqdn(found[0]["Name"]) == fqdn(zone) else None


def zone_id(zone: dict[str, Any]) -> str:
    return zone["Id"].rsplit("/", 1)[-1]


def record_sets(route53: Any, zone: str, name: str, record_type: str) -> list[dict[str, Any]]:
    """Every record set of `name`/`record_type` in the zone (weighted sets share the name)."""
    found: list[dict[str, Any]] = []
    args: dict[str, Any] = {
        "HostedZoneId": zone,
        "StartRecordName": fqdn(name),
        "StartRecordType": record_type,
    }
    while True:
        page = route53.list_resource_record_sets(**args)
        for rrset in page["ResourceRecordSets"]:
            if fqdn(rrset["Name"]) != fqdn(name) or rrset["Type"] != record_type:
                return found
            found.append(rrset)
        if not page.get("IsTruncated"):
            return found
        args.update(StartRecordName=page["NextRecordName"], StartRecordType=page["NextRecordType"])
        if page.get("NextRecordIdentifier"):
            args["StartRecordIdentifier"] = page["NextRecordIdentifier"]


def all_record_sets(route53: Any, zone: str) -> list[dict[str, Any]]:
    paginator = route53.get_paginator("list_resource_record_sets")
    return [r for page in paginator.paginate(HostedZoneId=zone) for r in page["ResourceRecordSets"]]


def change(route53: Any, zone: str, changes: list[dict[str, Any]], comment: str) -> dict[str, Any]:
    """Submit one change batch; its id and when Route 53 accepted it."""
    info = route53.change_resource_record_sets(
        HostedZoneId=zone, ChangeBatch={"Comment": comment[:256], "Changes": changes}
    )["ChangeInfo"]
    return {
        "id": info["Id"].rsplit("/", 1)[-1],
        "status": info["Status"],
        "submitted_at": _iso(info["SubmittedAt"]),
    }


def wait_insync(
    route53: Any,
    submitted: dict[str, Any],
    *,
    timeout: float = INSYNC_TIMEOUT_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Poll GetChange until the change is INSYNC; the change with `insync_at` and the polls it took."""
    started, polls, status = time.monotonic(), 0, submitted.get("status")
    while True:
        polls += 1
        status = route53.get_change(Id=submitted["id"])["ChangeInfo"]["Status"]
        if status == INSYNC:
            return {**submitted, "status": INSYNC, "insync_at": datetime.now(UTC).isoformat(), "polls": polls}
        if time.monotonic() - started > timeout:
            raise TaskFailed(
                f"Route 53 change {submitted['id']} is still {status} after {int(timeout)}s; "
                "check the zone in the console before re-running"
            )
        sleep(INSYNC_POLL_SECONDS)


def health_check_status(route53: Any, check_id: str) -> tuple[bool, str]:
    """(healthy, what the checkers report): healthy when most Route 53 checkers report success."""
    try:
        observations = route53.get_health_check_status(HealthCheckId=check_id)["HealthCheckObservations"]
    except route53.exceptions.NoSuchHealthCheck:
        return False, "no such health check"
    reports = [o.get("StatusReport", {}).get("Status", "") for o in observations]
    good = [r for r in reports if r.startswith("Success")]
    healthy = bool(reports) and len(good) * 2 > len(reports)
    detail = next((r for r in reports if not r.startswith("Success")), reports[0] if reports else "no report")
    return healthy, detail
