"""The cutover's changes: lower the TTL, shift the weights, watch, roll back, close the window.

Every change covers every record of the wave in ONE ChangeResourceRecordSets call and is waited on
until Route 53 reports it INSYNC. Every step reads the zone first and changes only what differs,
so a retried or re-run step changes nothing it already changed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tasks.common.errors import AlarmTripped, TaskFailed
from tasks.dns_cutover import alarms as alarm_states
from tasks.dns_cutover import evidence, route53, targets
from tasks.dns_cutover.reach import Reach, Run
from tasks.dns_cutover.records import Pair, describe_weights, desired, pair_of, removal_of_old
from tasks.dns_cutover.spec import fqdn, step_plan

Evidence = Callable[[Run, str, dict[str, Any]], Any]


class Zone:
    """The wave's zone in the account that owns it, and the record pairs it holds now."""

    def __init__(self, reach: Reach, spec: dict[str, Any], zone_id: str) -> None:
        self.reach, self.spec, self.id = reach, spec, zone_id
        self.client = reach.route53(spec["zone_account"])

    @classmethod
    def of(cls, reach: Reach, spec: dict[str, Any]) -> Zone:
        found = route53.find_zone(reach.route53(spec["zone_account"]), spec["zone"])
        if found is None:
            raise TaskFailed(f"zone {spec['zone']} is gone from the {spec['zone_account']} account")
        return cls(reach, spec, route53.zone_id(found))

    def pairs(self) -> list[Pair]:
        return [
            pair_of(r, route53.record_sets(self.client, self.id, r["name"], r["type"]))
            for r in self.spec["records"]
        ]

    def apply(self, changes: list[dict[str, Any]], comment: str) -> dict[str, Any] | None:
        """One change batch for all records, waited on until INSYNC; None when nothing differs."""
        if not changes:
            return None
        return route53.wait_insync(self.client, route53.change(self.client, self.id, changes, comment))

    def record_sets(self) -> list[dict[str, Any]]:
        names = {fqdn(r["name"]) for r in self.spec["records"]}
        return [r for r in route53.all_record_sets(self.client, self.id) if fqdn(r["Name"]) in names]


def _alias_zones(zone: Zone, pair: Pair) -> dict[str, str]:
    return targets.alias_zones(zone.reach, zone.spec, zone.id, pair.record)


# ----------------------------------------------------------------------------- lower the TTL


def lower_ttl(
    reach: Reach, spec: dict[str, Any], run: Run, write: Evidence = evidence.write_and_read
) -> dict:
    """Remember each record's TTL (write-once evidence, so a retry keeps the first reading), then set
    every record to `cutover_ttl` (never raising one) in one change; plain records become weighted."""
    zone = Zone.of(reach, spec)
    pairs = zone.pairs()
    remembered = write(
        run,
        "original-ttls",
        {"ttls": {fqdn(p.record["name"]): p.ttl() for p in pairs}, "record_sets": zone.record_sets()},
    )
    originals: dict[str, int] = remembered["ttls"]
    changes = []
    for pair in pairs:
        ttl = min(int(spec["cutover_ttl"]), originals[fqdn(pair.record["name"])])
        old_weight = pair.weights()["old"]
        changes += desired(
            pair,
            old_weight=100 if old_weight is None else old_weight,
            ttl=ttl,
            alias_zones=_alias_zones(zone, pair),
        )
    change = zone.apply(changes, f"wavectl {run.wave}: lower TTL to {spec['cutover_ttl']}s")
    body = {"change": change, "weights_after": describe_weights(zone.pairs()), "original_ttls": originals}
    write(run, "lower-ttl", body)
    return {"original_ttls": originals, "wait_seconds": max(originals.values()), "change": change}


# ----------------------------------------------------------------------------- shift one step


def shift(reach: Reach, spec: dict[str, Any], run: Run, index: int, write: Evidence = evidence.write) -> dict:
    """Set step `index`'s weight on every record in one change; the plan of the bake that follows."""
    zone = Zone.of(reach, spec)
    step = step_plan(spec, index)
    pairs = zone.pairs()
    before = describe_weights(pairs)
    changes = [
        c
        for p in pairs
        for c in desired(p, old_weight=100 - step["weight"], ttl=None, alias_zones=_alias_zones(zone, p))
    ]
    change = zone.apply(changes, f"wavectl {run.wave}: {step['weight']}% to the new targets")
    after = describe_weights(zone.pairs())
    write(
        run,
        f"shift-{index:02d}-{step['weight']}",
        {"change": change, "weights_before": before, "weights_after": after},
    )
    following = step_plan(spec, index + 1) if not step["last"] else None
    return {
        "step": step,
        "next": following,
        "change": change,
        "weights_before": before,
        "weights_after": after,
        "watch": new_watch(spec, "bake", step["weight"], step["bake_seconds"], new_health_checks(pairs)),
    }


WINDOW_POLLS = 240  # a rollback window is watched with at most this many polls (execution history size)


def new_watch(
    spec: dict[str, Any],
    mode: str,
    weight: int,
    length: int | None = None,
    health_checks: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The state of one watch: a bake (`length` seconds) or the rollback window (its length, polled
    every alarm_poll but at most WINDOW_POLLS times, so a 24 h window stays far from the 25,000-event
    history limit)."""
    poll = int(spec["alarm_poll"])
    if mode == "window":
        length = int(spec["rollback_window"])
        poll = max(poll, -(-length // WINDOW_POLLS))
    return {
        "mode": mode,
        "weight": weight,
        "poll_seconds": poll,
        "length_seconds": int(length or 0),
        "waited_seconds": 0,
        "polls": 0,
        "done": False,
        "health_checks": dict(health_checks or {}),  # new target -> its health check, read once
    }


# ----------------------------------------------------------------------------- watch


def watch(
    reach: Reach,
    spec: dict[str, Any],
    run: Run,
    state: dict[str, Any],
    write: Evidence = evidence.write,
    decided: Callable[[], bool] = lambda: False,
) -> dict[str, Any]:
    """One poll after one `alarm_poll` wait: raise Wavectl.AlarmTripped on any alarm not OK (ALARM or
    INSUFFICIENT_DATA) or an unhealthy new target; else count the time waited and say if it is over."""
    polls, waited = int(state["polls"]) + 1, int(state["waited_seconds"]) + int(state["poll_seconds"])
    states = alarm_states.alarm_states(reach, spec["alarms"])
    missing = [a["name"] for a in spec["alarms"] if a["name"] not in states]
    tripped = [n for n in alarm_states.not_ok(states) if states[n]["state"] == "ALARM"] + missing
    unhealthy = _unhealthy_targets(reach, spec, state.get("health_checks") or {})
    where = f"{state['mode']} at {state['weight']}%, {waited // 60}m{waited % 60:02d}s in, poll {polls}"
    if tripped or unhealthy:
        write(
            run,
            f"trip-{state['mode']}-{state['weight']}",
            {"alarm_states": states, "unhealthy": unhealthy, "at": where},
        )
        reasons = [
            f"alarm {n} is {states[n]['state'] if n in states else 'missing'}"
            + (f" ({states[n]['reason']})" if n in states and states[n]["reason"] else "")
            for n in tripped
        ]
        reasons += [f"health check of {u} is failing" for u in unhealthy]
        raise AlarmTripped(f"{'; '.join(reasons)} ({where}); traffic rolled back to the old targets")
    done = waited >= int(state["length_seconds"]) or (state["mode"] == "window" and decided())
    if done:
        write(run, f"watched-{state['mode']}-{state['weight']}", {"alarm_states": states, "at": where})
    return {**state, "polls": polls, "waited_seconds": waited, "done": done}


def _unhealthy_targets(reach: Reach, spec: dict[str, Any], checks: dict[str, str]) -> list[str]:
    client = reach.route53(spec["zone_account"])
    return [target for target, check in checks.items() if not route53.health_check_status(client, check)[0]]


def new_health_checks(pairs: list[Pair]) -> dict[str, str]:
    """new target -> its health check: the runbook's, else the one on the new weighted set."""
    found = {}
    for pair in pairs:
        check = pair.record.get("new_health_check") or (pair.new or {}).get("HealthCheckId")
        if check:
            found[pair.record["new_target"]] = check
    return found


# ----------------------------------------------------------------------------- roll back


def rollback(
    reach: Reach,
    spec: dict[str, Any],
    run: Run,
    originals: dict[str, int] | None,
    write: Evidence = evidence.write,
) -> dict[str, Any]:
    """Old = 100, new = 0 on every record with the original TTL, in one change (nothing if already so).
    Idempotent: a second run finds the zone as the first left it and changes nothing."""
    zone = Zone.of(reach, spec)
    pairs = zone.pairs()
    before = describe_weights(pairs)
    changes = []
    for pair in pairs:
        if pair.old is None and pair.plain is None:
            continue  # the window was closed and the old set removed: nothing left to roll back to
        ttl = (originals or {}).get(fqdn(pair.record["name"]))
        changes += desired(pair, old_weight=100, ttl=ttl)
    change = zone.apply(changes, f"wavectl {run.wave}: roll back to the old targets")
    after = describe_weights(zone.pairs())
    name = f"rollback-{change['id']}" if change else "rollback-nothing-to-change"
    write(run, name, {"change": change, "weights_before": before, "weights_after": after})
    return {"changed": change is not None, "change": change, "weights_before": before, "weights_after": after}


# ----------------------------------------------------------------------------- close the window


def close_window(
    reach: Reach, spec: dict[str, Any], run: Run, originals: dict[str, int], write: Evidence = evidence.write
) -> dict[str, Any]:
    """Delete the old weighted sets (kept in evidence) and set `final_ttl` (default: the original)."""
    zone = Zone.of(reach, spec)
    pairs = zone.pairs()
    removed = [p.old for p in pairs if p.old is not None]
    changes = []
    for pair in pairs:
        final = spec.get("final_ttl") or originals.get(fqdn(pair.record["name"]))
        changes += removal_of_old(pair, int(final) if final else None)
    change = zone.apply(changes, f"wavectl {run.wave}: close the rollback window")
    final_sets = zone.record_sets()
    write(
        run,
        "close-window",
        {"change": change, "removed_record_sets": removed, "final_record_sets": final_sets},
    )
    return {"change": change, "removed": [f"{r['Name']} {r['SetIdentifier']}" for r in removed]}
