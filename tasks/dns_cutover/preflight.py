"""Preflight: every reason the cutover cannot run, found before anything is touched.

Read-only. Every problem is collected and reported at once in `Wavectl.PreflightFailed`, one line
each: the zone and every record exist (weighted sets or a plain record to convert), every target
resolves, the new targets' health checks are healthy, every alarm exists and is OK, and the zone
account's role may change the zone.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from tasks.common.errors import PreflightFailed
from tasks.dns_cutover import alarms as alarm_states
from tasks.dns_cutover import permissions, route53, targets
from tasks.dns_cutover.reach import SIDES, Reach
from tasks.dns_cutover.records import describe_weights, pair_of, shape_problems
from tasks.dns_cutover.spec import shift_summary, step_plan
from tasks.dns_cutover.steps import new_health_checks

CHANGE_ACTION = "route53:ChangeResourceRecordSets"


def run_preflight(reach: Reach, spec: dict[str, Any]) -> dict[str, Any]:
    problems: list[str] = []
    zone = _check_zone(reach, spec, problems)
    pairs = []
    if zone is not None:
        pairs = _check_records(reach, spec, route53.zone_id(zone), problems)
        _check_change_permission(reach, spec, route53.zone_id(zone), problems)
        _check_health(reach, spec, pairs, problems)
    _check_alarms(reach, spec, problems)
    if problems:
        count = len(problems)
        raise PreflightFailed(
            f"{count} problem{'s' if count > 1 else ''} found; nothing was changed:\n- "
            + "\n- ".join(problems)
        )
    return {
        "zone_id": route53.zone_id(zone),
        "records": [p.record["name"] for p in pairs],
        "weights": describe_weights(pairs),
        "converts": [p.record["name"] for p in pairs if p.plain is not None],
        "first": step_plan(spec, 0),
        "summary": _plan_text(spec),
    }


def _plan_text(spec: dict[str, Any]) -> str:
    steps = " -> ".join(f"{s}%" for s in spec["steps"])
    gated = ", ".join(f"{s}%" for s in spec.get("gated_steps", [100]))
    return (
        f"Preflight passed. Shift {', '.join(r['name'] for r in spec['records'])} in steps {steps} "
        f"(a gate before {gated}); {shift_summary(spec, 0)} TTL lowered to "
        f"{spec['cutover_ttl']}s first; after 100% the old records stay at weight 0 for "
        f"{spec['rollback_window'] // 3600}h {spec['rollback_window'] % 3600 // 60}m (rollback window)."
    )


def _check_zone(reach: Reach, spec: dict[str, Any], problems: list[str]) -> dict[str, Any] | None:
    side = spec["zone_account"]
    try:
        zone = route53.find_zone(reach.route53(side), spec["zone"])
    except (ClientError, BotoCoreError) as exc:
        problems.append(f"zone {spec['zone']}: the {side} role {reach.roles[side]} cannot read it: {exc}")
        return None
    if zone is not None:
        return zone
    elsewhere = [s for s in SIDES if s != side and _zone_in(reach, s, spec["zone"])]
    if elsewhere:
        problems.append(
            f"zone {spec['zone']} is not in the {side} account {reach.account(side)} but in the "
            f"{elsewhere[0]} account {reach.account(elsewhere[0])}; set zone account: {elsewhere[0]}"
        )
    else:
        problems.append(
            f"zone {spec['zone']} not found in the source ({reach.account('source')}) or target "
            f"({reach.account('target')}) account: no role of this wave can reach it"
        )
    return None


def _zone_in(reach: Reach, side: str, zone: str) -> bool:
    try:
        return route53.find_zone(reach.route53(side), zone) is not None
    except (ClientError, BotoCoreError):
        return False


def _check_records(reach: Reach, spec: dict[str, Any], zone: str, problems: list[str]) -> list[Any]:
    client = reach.route53(spec["zone_account"])
    pairs = []
    for record in spec["records"]:
        pair = pair_of(record, route53.record_sets(client, zone, record["name"], record["type"]))
        problems.extend(shape_problems(pair))
        for which in ("old", "new"):
            resolved = targets.resolve(reach, spec, zone, record, which)
            if not resolved["resolves"]:
                problems.append(
                    f"{record['name']}: {which}_target {record[f'{which}_target']} does not "
                    f"resolve ({resolved['how']})"
                )
        pairs.append(pair)
    return pairs


def _check_change_permission(reach: Reach, spec: dict[str, Any], zone: str, problems: list[str]) -> None:
    side = spec["zone_account"]
    resource = f"arn:aws:route53:::hostedzone/{zone}"
    try:
        documents = permissions.role_policies(
            reach.client(side, "iam", spec["region"]), reach.role_name(side)
        )
    except (ClientError, BotoCoreError) as exc:
        problems.append(
            f"zone {spec['zone']}: cannot read the policies of role {reach.roles[side]} to check it "
            f"may change the zone ({exc}); grant it iam:GetRolePolicy and iam:ListRolePolicies"
        )
        return
    for action in (CHANGE_ACTION, "route53:GetChange"):
        target = resource if action == CHANGE_ACTION else "arn:aws:route53:::change/*"
        if not permissions.allowed(documents, action, target):
            problems.append(f"role {reach.roles[side]} may not {action} on {target}")


def _check_health(reach: Reach, spec: dict[str, Any], pairs: list[Any], problems: list[str]) -> None:
    client = reach.route53(spec["zone_account"])
    for target, check in new_health_checks(pairs).items():
        healthy, detail = route53.health_check_status(client, check)
        if not healthy:
            problems.append(f"health check {check} of new_target {target} is not healthy ({detail})")


def _check_alarms(reach: Reach, spec: dict[str, Any], problems: list[str]) -> None:
    try:
        states = alarm_states.alarm_states(reach, spec["alarms"])
    except (ClientError, BotoCoreError) as exc:
        problems.append(f"alarms: cannot describe them: {exc}")
        return
    for alarm in spec["alarms"]:
        found = states.get(alarm["name"])
        where = f"{alarm['account']} account {reach.account(alarm['account'])} {alarm['region']}"
        if found is None:
            problems.append(f"alarm {alarm['name']} not found in the {where}")
        elif found["state"] != alarm_states.OK:
            problems.append(
                f"alarm {alarm['name']} is {found['state']}, not OK ({found['reason']}); "
                "fix what it watches before shifting traffic"
            )
