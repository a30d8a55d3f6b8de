"""The weighted record pair of each record, and the change batches that move it (pure logic).

A record is shifted through two weighted record sets of the same name and type: the old target's
and the new target's. They are found by their value (the CNAME target, or the alias target's DNS
name), whatever their set identifiers. A plain (non-weighted) record pointing at the old target is
converted: deleted and replaced by the two weighted sets in the same change batch.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from tasks.dns_cutover.spec import ALIAS_TYPES, fqdn

OLD, NEW = "old", "new"
ALIAS_TTL = 60  # an alias record has no TTL of its own; resolvers cache the load balancer's 60 s


def target_of(rrset: dict[str, Any]) -> str | None:
    if rrset.get("AliasTarget"):
        name = fqdn(rrset["AliasTarget"]["DNSName"])
        return name.removeprefix("dualstack.")
    values = rrset.get("ResourceRecords") or []
    return fqdn(values[0]["Value"]) if values else None


def same_target(a: str, b: str) -> bool:
    return fqdn(a).removeprefix("dualstack.") == fqdn(b).removeprefix("dualstack.")


@dataclass
class Pair:
    """One record of the wave as the zone holds it now."""

    record: dict[str, Any]
    old: dict[str, Any] | None = None
    new: dict[str, Any] | None = None
    plain: dict[str, Any] | None = None
    others: tuple[dict[str, Any], ...] = ()

    @property
    def is_alias(self) -> bool:
        return self.record["type"] in ALIAS_TYPES

    def ttl(self) -> int:
        base = self.old or self.plain or self.new
        if base is None or self.is_alias or base.get("TTL") is None:
            return ALIAS_TTL
        return int(base["TTL"])

    def weights(self) -> dict[str, int | None]:
        if self.plain is not None:
            return {OLD: 100, NEW: 0}
        return {
            side: (int(s["Weight"]) if s is not None else None)
            for side, s in ((OLD, self.old), (NEW, self.new))
        }


def pair_of(record: dict[str, Any], rrsets: list[dict[str, Any]]) -> Pair:
    pair = Pair(record=record)
    others = []
    for rrset in rrsets:
        target = target_of(rrset) or ""
        weighted = rrset.get("SetIdentifier") is not None and rrset.get("Weight") is not None
        if weighted and same_target(target, record["old_target"]):
            pair.old = rrset
        elif weighted and same_target(target, record["new_target"]):
            pair.new = rrset
        elif not rrset.get("SetIdentifier") and same_target(target, record["old_target"]):
            pair.plain = rrset
        else:
            others.append(rrset)
    pair.others = tuple(others)
    return pair


def shape_problems(pair: Pair) -> list[str]:
    """Why the zone's record sets cannot be shifted as they are (empty when they can)."""
    record, name = pair.record, f"{pair.record['type']} {pair.record['name']}"
    if pair.old is None and pair.plain is None and pair.new is None:
        if pair.others:
            values = ", ".join(sorted({target_of(o) or "?" for o in pair.others}))
            return [f"{name} points at {values}, not at old_target {record['old_target']}"]
        return [f"{name} not found in the zone; create it (pointing at {record['old_target']}) first"]
    problems = []
    if pair.old is None and pair.plain is None:
        problems.append(f"{name} has no record set for old_target {record['old_target']}")
    if pair.plain is not None and pair.others:
        problems.append(
            f"{name} is a plain record but other record sets share its name: "
            f"{', '.join(target_of(o) or '?' for o in pair.others)}"
        )
    weighted_others = [o for o in pair.others if o.get("Weight") is not None]
    if weighted_others:
        values = ", ".join(target_of(o) or "?" for o in weighted_others)
        problems.append(f"{name} has weighted sets for targets the wave does not know: {values}")
    return problems


def set_identifier(record: dict[str, Any], side: str) -> str:
    return f"wavectl-{side}"


def _build(pair: Pair, side: str, alias_zone: str | None) -> dict[str, Any]:
    """A weighted set for `side` when the zone has none yet (plain record conversion, or new missing)."""
    record = pair.record
    rrset: dict[str, Any] = {
        "Name": fqdn(record["name"]),
        "Type": record["type"],
        "SetIdentifier": set_identifier(record, side),
        "Weight": 0,
    }
    target = record[f"{side}_target"]
    if pair.is_alias:
        base = pair.plain if side == OLD and pair.plain else None
        zone = (base or {}).get("AliasTarget", {}).get("HostedZoneId") or alias_zone
        rrset["AliasTarget"] = {"HostedZoneId": zone, "DNSName": fqdn(target), "EvaluateTargetHealth": True}
    else:
        rrset["TTL"] = pair.ttl()
        rrset["ResourceRecords"] = [{"Value": target.rstrip(".")}]
    return rrset


def desired(
    pair: Pair, *, old_weight: int, ttl: int | None, alias_zones: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """The UPSERTs (and a plain record's DELETE) that leave `pair` at old_weight / 100 - old_weight
    with `ttl` (None: keep each set's TTL). Sets already like that are left out."""
    alias_zones = alias_zones or {}
    changes: list[dict[str, Any]] = []
    if pair.plain is not None:
        changes.append({"Action": "DELETE", "ResourceRecordSet": pair.plain})
    for side, weight in ((OLD, old_weight), (NEW, 100 - old_weight)):
        current = pair.old if side == OLD else pair.new
        wanted = copy.deepcopy(current) if current is not None else _build(pair, side, alias_zones.get(side))
        wanted["Weight"] = weight
        health_check = pair.record.get(f"{side}_health_check")
        if health_check:
            wanted["HealthCheckId"] = health_check
        if ttl is not None and not pair.is_alias:
            wanted["TTL"] = ttl
        if wanted != current or pair.plain is not None:
            changes.append({"Action": "UPSERT", "ResourceRecordSet": wanted})
    return changes


def removal_of_old(pair: Pair, ttl: int | None) -> list[dict[str, Any]]:
    """Closing the window: delete the old set, give the new one `ttl`."""
    changes: list[dict[str, Any]] = []
    if pair.old is not None:
        changes.append({"Action": "DELETE", "ResourceRecordSet": pair.old})
    if pair.new is not None and ttl is not None and not pair.is_alias and pair.new.get("TTL") != ttl:
        changes.append({"Action": "UPSERT", "ResourceRecordSet": {**pair.new, "TTL": ttl}})
    return changes


def describe_weights(pairs: list[Pair]) -> dict[str, dict[str, int | None]]:
    return {fqdn(p.record["name"]): p.weights() for p in pairs}
