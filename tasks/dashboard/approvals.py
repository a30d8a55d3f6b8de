"""Pending approvals and their age per wave, as CloudWatch metrics in the embedded metric format.

Runs every 5 minutes; one EMF log line per wave (`PendingApprovals`, `OldestPendingApprovalAgeSeconds`,
dimension `Wave`), which CloudWatch turns into metrics without any PutMetricData permission.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime
from typing import Any

from tasks import contracts as c


def pending_by_wave(dynamodb: Any, table: str) -> dict[str, list[str]]:
    """The creation times of the pending approvals, by wave (the by-status index only)."""
    by_wave: dict[str, list[str]] = defaultdict(list)
    kwargs: dict[str, Any] = {
        "TableName": table,
        "IndexName": c.APPROVALS_STATUS_INDEX,
        "KeyConditionExpression": "#s = :pending",
        "ExpressionAttributeNames": {"#s": c.APPROVAL_STATUS, "#w": "wave", "#c": c.APPROVAL_CREATED_AT},
        "ExpressionAttributeValues": {":pending": {"S": c.Decision.PENDING.value}},
        "ProjectionExpression": "#w, #c",
    }
    while True:
        page = dynamodb.query(**kwargs)
        for item in page.get("Items", []):
            by_wave[item.get("wave", {}).get("S", "?")].append(
                item.get(c.APPROVAL_CREATED_AT, {}).get("S", "")
            )
        if "LastEvaluatedKey" not in page:
            return dict(by_wave)
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def metric_lines(by_wave: dict[str, list[str]], waves: list[str], now: datetime) -> list[str]:
    """One EMF document per wave (zero for a wave with nothing pending, so graphs drop to 0)."""
    lines = []
    for wave in waves:
        created = [datetime.fromisoformat(t.replace("Z", "+00:00")) for t in by_wave.get(wave, []) if t]
        oldest = max(((now - t).total_seconds() for t in created), default=0.0)
        lines.append(
            json.dumps(
                {
                    "_aws": {
                        "Timestamp": int(now.timestamp() * 1000),
                        "CloudWatchMetrics": [
                            {
                                "Namespace": c.METRICS_NAMESPACE,
                                "Dimensions": [["Wave"]],
                                "Metrics": [
                                    {"Name": "PendingApprovals", "Unit": "Count"},
                                    {"Name": "OldestPendingApprovalAgeSeconds", "Unit": "Seconds"},
                                ],
                            }
                        ],
                    },
                    "Wave": wave,
                    "PendingApprovals": len(by_wave.get(wave, [])),
                    "OldestPendingApprovalAgeSeconds": round(oldest, 1),
                }
            )
        )
    return lines
