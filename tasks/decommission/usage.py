"""Usage proof: CloudWatch metrics over the lookback show that nothing uses a resource in scope.

Each type has one metric (two for DynamoDB). A resource passes when every metric's value over the
lookback (sum, or maximum for connection counts) is at most the runbook's threshold for its type
(default 0). A metric without a single datapoint in the lookback is "unproven", never "unused":
it fails unless the runbook accepts that type without proof. Route 53 records have no metric.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tasks.common.errors import PreflightFailed
from tasks.decommission import resources
from tasks.decommission.estate import Reach
from tasks.decommission.spec import (
    DYNAMODB_TABLE,
    EC2_INSTANCE,
    LAMBDA_FUNCTION,
    LOAD_BALANCER,
    RDS_CLUSTER,
    RDS_DB,
    ROUTE53_RECORD,
    S3_BUCKET,
)

PERIOD_SECONDS = 3600  # hourly datapoints: the last non-zero time is known to the hour
MAX_DATAPOINTS = 100_800  # GetMetricData's limit per call


@dataclass(frozen=True)
class Metric:
    namespace: str
    name: str
    stat: str  # Sum | Maximum

    def dimensions(self, item: dict[str, Any]) -> list[dict[str, str]]:
        name = item["name"]
        dims = {
            RDS_DB: [("DBInstanceIdentifier", name)],
            RDS_CLUSTER: [("DBClusterIdentifier", name)],
            S3_BUCKET: [("BucketName", name), ("FilterId", "EntireBucket")],
            LAMBDA_FUNCTION: [("FunctionName", name)],
            EC2_INSTANCE: [("InstanceId", name)],
            LOAD_BALANCER: [("LoadBalancer", item["id"].split(":loadbalancer/", 1)[-1])],
            DYNAMODB_TABLE: [("TableName", name)],
        }[item["type"]]
        return [{"Name": k, "Value": v} for k, v in dims]


METRICS: dict[str, tuple[Metric, ...]] = {
    RDS_DB: (Metric("AWS/RDS", "DatabaseConnections", "Maximum"),),
    RDS_CLUSTER: (Metric("AWS/RDS", "DatabaseConnections", "Maximum"),),
    S3_BUCKET: (Metric("AWS/S3", "AllRequests", "Sum"),),  # request metrics must be on for the bucket
    LAMBDA_FUNCTION: (Metric("AWS/Lambda", "Invocations", "Sum"),),
    EC2_INSTANCE: (Metric("AWS/EC2", "NetworkIn", "Sum"),),
    LOAD_BALANCER: (Metric("AWS/ApplicationELB", "RequestCount", "Sum"),),
    DYNAMODB_TABLE: (
        Metric("AWS/DynamoDB", "ConsumedReadCapacityUnits", "Sum"),
        Metric("AWS/DynamoDB", "ConsumedWriteCapacityUnits", "Sum"),
    ),
    ROUTE53_RECORD: (),
}


def measure(cloudwatch: Any, item: dict[str, Any], metric: Metric, start: datetime, end: datetime) -> dict:
    """{metric, stat, value, datapoints, last_nonzero} of one metric of one resource."""
    query = {
        "Id": "m",
        "ReturnData": True,
        "MetricStat": {
            "Metric": {
                "Namespace": metric.namespace,
                "MetricName": metric.name,
                "Dimensions": metric.dimensions(item),
            },
            "Period": PERIOD_SECONDS,
            "Stat": metric.stat,
        },
    }
    points: list[tuple[datetime, float]] = []
    for page in cloudwatch.get_paginator("get_metric_data").paginate(
        MetricDataQueries=[query], StartTime=start, EndTime=end
    ):
        for result in page["MetricDataResults"]:
            points += list(zip(result.get("Timestamps", []), result.get("Values", []), strict=False))
    values = [v for _, v in points]
    value = (max(values) if metric.stat == "Maximum" else sum(values)) if values else None
    nonzero = [t for t, v in points if v > 0]
    return {
        "metric": f"{metric.namespace} {metric.name} ({metric.stat})",
        "value": value,
        "datapoints": len(points),
        "last_nonzero": max(nonzero).astimezone(UTC).isoformat() if nonzero else None,
    }


def prove(
    reach: Reach, spec: dict[str, Any], items: list[dict[str, Any]], now: datetime | None = None
) -> dict:
    """Usage proof of every item; PreflightFailed naming each resource in use or unproven."""
    end = (now or datetime.now(UTC)).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    start = end - timedelta(seconds=int(spec["lookback_seconds"]))
    proofs, failures = [], []
    for item in items:
        proof = _prove_item(reach, spec, item, start, end)
        proofs.append(proof)
        failures += proof["failures"]
    if failures:
        raise PreflightFailed(
            f"{len(failures)} resource metric(s) fail the usage proof over the lookback "
            f"({start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC); nothing was changed:\n- "
            + "\n- ".join(failures)
        )
    return {"from": start.isoformat(), "to": end.isoformat(), "proofs": proofs, "summary": summary(proofs)}


def _prove_item(
    reach: Reach, spec: dict[str, Any], item: dict[str, Any], start: datetime, end: datetime
) -> dict:
    threshold = float((spec.get("thresholds") or {}).get(item["type"], 0))
    accepted = item["type"] in (spec.get("accept_unproven") or [])
    what = f"{item['type']} {item['name']}"
    region = item["region"] if item["region"] != "global" else resources.GLOBAL_REGION
    measured, failures = [], []
    metrics = METRICS[item["type"]]
    for metric in metrics:
        found = measure(reach.source("cloudwatch", region), item, metric, start, end)
        measured.append(found)
        if found["value"] is None:
            if not accepted:
                failures.append(
                    f"{what}: {found['metric']} has no datapoints: usage unproven (accept the type "
                    "without proof in the runbook only if another record shows it unused)"
                )
        elif found["value"] > threshold:
            failures.append(
                f"{what} is in use: {found['metric']} = {found['value']:g} (threshold "
                f"{threshold:g}), last non-zero at {found['last_nonzero']}"
            )
    if not metrics and not accepted:
        failures.append(f"{what}: no CloudWatch metric shows its use: usage unproven")
    verdict = "in use" if any("in use" in f for f in failures) else "unproven" if failures else "unused"
    if verdict == "unused" and any(m["value"] is None for m in measured) or (not metrics and accepted):
        verdict = "unproven, accepted"
    return {
        "id": item["id"],
        "type": item["type"],
        "name": item["name"],
        "threshold": threshold,
        "metrics": measured,
        "verdict": verdict,
        "failures": failures,
    }


def summary(proofs: list[dict[str, Any]]) -> str:
    unused = sum(1 for p in proofs if p["verdict"] == "unused")
    accepted = sum(1 for p in proofs if p["verdict"] == "unproven, accepted")
    text = f"{unused} of {len(proofs)} shown unused by their metrics"
    return text + (f"; {accepted} accepted without proof (type allowed by the runbook)" if accepted else "")
