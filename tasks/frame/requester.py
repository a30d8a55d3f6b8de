"""Who started this execution, resolved before any approval gate opens (the frame's second step).

The authenticated caller of `StartExecution` is read from CloudTrail (`LookupEvents`). CloudTrail
delivers management events minutes after the call, so while the event is not there yet the step
fails with `Wavectl.RequesterPending` and the state's Retry waits and asks again, for at most
`MAX_WAIT` after the execution started. Then:

- found: the requester is that principal (`verified: true`); the gates hold it to four eyes;
- not found, and the wave's runbook says `requester: unverified`: the gates open with the
  execution input's `requested_by` (or nobody) as the requester (`verified: false`);
- not found otherwise: `Wavectl.RequesterUnknown`. The execution ends before any gate opens, so a
  starter who left `requested_by` out cannot cast the closing vote inside CloudTrail's delivery lag.

A dry run changes nothing and opens no gate: it skips the lookup (`source: dry_run`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from tasks.approvals.identity import CLOUDTRAIL, INPUT, UNKNOWN, Principal
from tasks.common.errors import RequesterPending, RequesterUnknown
from tasks.contracts import REQUESTER_UNVERIFIED

MAX_WAIT = timedelta(minutes=15)  # CloudTrail's documented delivery is "within about 5 minutes"
DRY_RUN = "dry_run"

Lookup = Callable[[str, datetime], Principal | None]


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def resolve_requester(event: dict[str, Any], lookup: Lookup) -> dict[str, Any]:
    """The requester of the execution in `event` ({execution, started_at, now, requested_by,
    dry_run, requester_policy}); raises RequesterPending (retry) or RequesterUnknown."""
    requested_by = event.get("requested_by") or None
    if event.get("dry_run"):
        return {"verified": False, "source": DRY_RUN, "requested_by": requested_by}
    started = _parse_time(str(event["started_at"]))
    principal = lookup(str(event["execution"]), started)
    if principal is not None:
        return {"verified": True, "source": CLOUDTRAIL, "principal": principal.as_record()}
    waited = _parse_time(str(event["now"])) - started
    if waited < MAX_WAIT:
        raise RequesterPending(
            f"CloudTrail has not yet delivered the StartExecution event of this execution "
            f"(waited {int(waited.total_seconds())} s of {int(MAX_WAIT.total_seconds())} s)"
        )
    if event.get("requester_policy") == REQUESTER_UNVERIFIED:
        return {"verified": False, "source": INPUT if requested_by else UNKNOWN, "requested_by": requested_by}
    raise RequesterUnknown(
        f"nobody authenticated is known to have started this execution: CloudTrail had no StartExecution "
        f"event for it {int(MAX_WAIT.total_seconds() // 60)} minutes after the start, so no approval "
        "gate may open (four eyes). Start the wave again, or set `requester: unverified` on the wave "
        "to let gates open with the input's requested_by."
    )
