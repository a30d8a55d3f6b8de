"""Does a target resolve? A name in the wave's zone, or a load balancer of the target's account."""

from __future__ import annotations

from typing import Any

from tasks.dns_cutover.reach import Reach
from tasks.dns_cutover.records import same_target
from tasks.dns_cutover.spec import fqdn

# The old target is the old owner's (source account), the new target the new owner's (target account).
TARGET_ACCOUNT = {"old": "source", "new": "target"}


def load_balancer(reach: Reach, side: str, region: str, dns_name: str) -> dict[str, Any] | None:
    elbv2 = reach.client(side, "elbv2", region)
    for page in elbv2.get_paginator("describe_load_balancers").paginate():
        for lb in page["LoadBalancers"]:
            if same_target(lb["DNSName"], dns_name):
                return lb
    return None


def resolve(
    reach: Reach, spec: dict[str, Any], zone: str, record: dict[str, Any], which: str
) -> dict[str, Any]:
    """{resolves, how, alias_zone}: how `record`'s old or new target was found (or why not)."""
    target = record[f"{which}_target"]
    zone_route53 = reach.route53(spec["zone_account"])
    if fqdn(target).endswith("." + fqdn(spec["zone"])) or fqdn(target) == fqdn(spec["zone"]):
        sets = zone_route53.list_resource_record_sets(
            HostedZoneId=zone, StartRecordName=fqdn(target), MaxItems="1"
        )["ResourceRecordSets"]
        if sets and fqdn(sets[0]["Name"]) == fqdn(target):
            return {"resolves": True, "how": f"{sets[0]['Type']} record in the zone", "alias_zone": None}
        return {"resolves": False, "how": f"no record named {target} in zone {spec['zone']}"}
    side = TARGET_ACCOUNT[which]
    try:
        lb = load_balancer(reach, side, spec["region"], target)
    except Exception as exc:
        return {"resolves": False, "how": f"could not list load balancers in the {side} account: {exc}"}
    if lb is None:
        return {
            "resolves": False,
            "how": f"no load balancer {target} in the {side} account {reach.account(side)} {spec['region']}",
        }
    return {
        "resolves": True,
        "how": f"load balancer {lb['LoadBalancerName']}",
        "alias_zone": lb.get("CanonicalHostedZoneId"),
    }


def alias_zones(reach: Reach, spec: dict[str, Any], zone: str, record: dict[str, Any]) -> dict[str, str]:
    """The canonical hosted zone of each alias target (to create a missing weighted alias set)."""
    if record["type"] not in ("A", "AAAA"):
        return {}
    found = {}
    for which in ("old", "new"):
        resolved = resolve(reach, spec, zone, record, which)
        if resolved.get("alias_zone"):
            found[which] = resolved["alias_zone"]
    return found
