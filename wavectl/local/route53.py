"""Route 53 in the embedded AWS: what moto leaves out that a DNS cutover depends on.

- **Change ids and history.** moto answers every ChangeResourceRecordSets with one constant change
  id. Here each change gets its own id and is journaled: id, account, zone, the simulated time it
  was submitted and its changes (`Route53Journal.changes`), which is the record history tests read.
  `on_change(callback)` lets a test act when a change is made (e.g. start a timer on the clock).
  GetChange answers INSYNC at once, as moto does (propagation is instant here).
- **Weighted deletes.** moto deletes every record set with the DELETE's set identifier, whatever
  its name; AWS deletes the one set with that name, type and identifier. Patched to AWS's rule.
- **Health checks.** moto reports every health check healthy. `set_health(check_id, healthy)` makes
  its checkers report a failure (or success again) through GetHealthCheckStatus.
"""

from __future__ import annotations

import copy
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Clock = Callable[[], float]


@dataclass(frozen=True)
class Change:
    id: str
    account: str
    zone_id: str
    submitted_at: float  # simulated seconds since the embedded AWS started
    changes: tuple[dict[str, Any], ...]


class Route53Journal:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.changes: list[Change] = []
        self._health: dict[str, str] = {}
        self._listeners: list[Callable[[Change], None]] = []

    def set_health(self, check_id: str, healthy: bool, reason: str = "HTTP Status Code: 503") -> None:
        with self._lock:
            if healthy:
                self._health.pop(check_id, None)
            else:
                self._health[check_id] = f"Failure: {reason}"

    def on_change(self, callback: Callable[[Change], None]) -> None:
        """`callback(change)` after each change (inside the request: schedule, do not call AWS)."""
        self._listeners.append(callback)

    def history(self, zone_id: str | None = None) -> list[Change]:
        with self._lock:
            return [c for c in self.changes if zone_id is None or c.zone_id == zone_id.rsplit("/", 1)[-1]]

    def _record(self, account: str, zone_id: str, changes: list[dict[str, Any]]) -> Change:
        change = Change(
            id="C" + uuid.uuid4().hex[:13].upper(),
            account=account,
            zone_id=zone_id.rsplit("/", 1)[-1],
            submitted_at=self._clock(),
            changes=tuple(copy.deepcopy(changes)),
        )
        with self._lock:
            self.changes.append(change)
        for listener in list(self._listeners):
            listener(change)
        return change

    def patches(self) -> list[tuple[Any, str, Any]]:
        from moto.route53.models import Route53Backend
        from moto.route53.responses import Route53

        return [
            (
                Route53,
                "change_resource_record_sets",
                self._change_response(Route53.change_resource_record_sets),
            ),
            (Route53, "get_health_check_status", self._health_response(Route53.get_health_check_status)),
            (
                Route53Backend,
                "change_resource_record_sets",
                _exact_weighted_delete(Route53Backend.change_resource_record_sets),
            ),
        ]

    def _change_response(self, original):
        journal = self

        def change_resource_record_sets(response):
            changes = copy.deepcopy(response._get_param("ChangeBatch.Changes"))
            result = original(response)
            change = journal._record(response.current_account, response._get_param("HostedZoneId"), changes)
            result.result["ChangeInfo"]["Id"] = f"/change/{change.id}"
            return result

        return change_resource_record_sets

    def _health_response(self, original):
        journal = self

        def get_health_check_status(response):
            result = original(response)
            failure = journal._health.get(response._get_param("HealthCheckId"))
            if failure is not None:
                for observation in result.result["HealthCheckObservations"]:
                    observation["StatusReport"]["Status"] = failure
            return result

        return get_health_check_status


def _exact_weighted_delete(original):
    """DELETE of a weighted set removes the set with that name, type and identifier only."""

    def change_resource_record_sets(backend, zoneid, change_list):
        zone = backend.get_hosted_zone(zoneid)
        deletes = [
            c["ResourceRecordSet"]
            for c in change_list
            if c["Action"] == "DELETE" and "SetIdentifier" in c["ResourceRecordSet"]
        ]

        def delete_rrset_by_id(set_identifier):
            wanted = deletes.pop(0)
            name = wanted["Name"] if wanted["Name"].endswith(".") else wanted["Name"] + "."
            zone.rrsets = [
                r
                for r in zone.rrsets
                if not (r.name == name and r.type == wanted["Type"] and r.set_identifier == set_identifier)
            ]

        zone.delete_rrset_by_id = delete_rrset_by_id
        try:
            return original(backend, zoneid, change_list)
        finally:
            del zone.delete_rrset_by_id

    return change_resource_record_sets
