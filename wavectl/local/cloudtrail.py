"""CloudTrail's `LookupEvents` for the embedded AWS, which moto does not implement.

Every `StartExecution` the embedded Step Functions accepts is recorded as the management event AWS
would deliver: `userIdentity` is the authenticated caller of the request (moto's STS answer for the
request's access key: an assumed role's session, an IAM user, or moto's default user), and
`responseElements.executionArn` the execution it started. `LookupEvents` answers from those events
(EventName attribute, time window, MaxResults, NextToken), so the frame's requester step and the
approval functions run their real lookup code offline. Delivery is immediate here; on AWS it lags
minutes, which the frame's bounded Retry covers.
"""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

_lock = threading.Lock()
_events: list[dict[str, Any]] = []


def reset() -> None:
    with _lock:
        _events.clear()


def recorded() -> list[dict[str, Any]]:
    with _lock:
        return [dict(event) for event in _events]


def user_identity(arn: str, principal_id: str, account: str) -> dict[str, Any]:
    """CloudTrail's `userIdentity` for a caller ARN."""
    identity: dict[str, Any] = {"arn": arn, "principalId": principal_id, "accountId": account}
    if ":assumed-role/" in arn:
        role = arn.split(":assumed-role/", 1)[1].split("/")[0]
        identity["type"] = "AssumedRole"
        identity["sessionContext"] = {
            "sessionIssuer": {"type": "Role", "arn": f"arn:aws:iam::{account}:role/{role}", "userName": role}
        }
    elif ":user/" in arn:
        identity.update(type="IAMUser", userName=arn.rsplit("/", 1)[-1])
    else:
        identity["type"] = "Root" if arn.endswith(":root") else "Unknown"
    return identity


def record_start_execution(identity: dict[str, Any], execution_arn: str, region: str) -> None:
    now = datetime.now(UTC)
    event_id = str(uuid.uuid4())
    detail = {
        "eventVersion": "1.09",
        "eventTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "states.amazonaws.com",
        "eventName": "StartExecution",
        "awsRegion": region,
        "userIdentity": identity,
        "responseElements": {"executionArn": execution_arn},
        "eventID": event_id,
        "eventType": "AwsApiCall",
        "managementEvent": True,
    }
    with _lock:
        _events.append(
            {
                "EventId": event_id,
                "EventName": "StartExecution",
                "EventTime": now.timestamp(),
                "EventSource": "states.amazonaws.com",
                "Username": identity.get("userName") or identity["arn"].rsplit("/", 1)[-1],
                "CloudTrailEvent": json.dumps(detail),
            }
        )


def lookup(params: dict[str, Any]) -> dict[str, Any]:
    """A LookupEvents answer, newest first as AWS gives them."""
    attributes = params.get("LookupAttributes") or []
    start, end = params.get("StartTime"), params.get("EndTime")
    size = int(params.get("MaxResults") or 50)
    offset = int(params.get("NextToken") or 0)
    with _lock:
        events = sorted(_events, key=lambda e: e["EventTime"], reverse=True)
    for attribute in attributes:
        if attribute.get("AttributeKey") == "EventName":
            events = [e for e in events if e["EventName"] == attribute.get("AttributeValue")]
    if start is not None:
        events = [e for e in events if e["EventTime"] >= float(start)]
    if end is not None:
        events = [e for e in events if e["EventTime"] <= float(end)]
    page = events[offset : offset + size]
    answer: dict[str, Any] = {"Events": page}
    if offset + size < len(events):
        answer["NextToken"] = str(offset + size)
    return answer


def patches() -> list[tuple[Any, str, Any]]:
    """(target, attribute, replacement) for `patches.install`: record StartExecution, serve LookupEvents."""
    from moto.cloudtrail.responses import CloudTrailResponse
    from moto.stepfunctions.responses import StepFunctionResponse

    start = StepFunctionResponse.start_execution

    def start_execution(self: Any) -> Any:
        result = start(self)
        from moto.sts.models import sts_backends

        sts = sts_backends[self.current_account][self.partition]
        principal_id, arn, account = sts.get_caller_identity(self.get_access_key(), self.region)
        record_start_execution(
            user_identity(arn, principal_id, account), result.result["executionArn"], self.region
        )
        return result

    def lookup_events(self: Any) -> str:
        return json.dumps(lookup(json.loads(self.body or "{}")))

    return [
        (StepFunctionResponse, "start_execution", start_execution),
        (CloudTrailResponse, "lookup_events", lookup_events),
    ]
