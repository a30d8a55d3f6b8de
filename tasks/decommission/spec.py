"""The wave's decommission section, handed to the task functions in one compressed environment variable.

The stack encodes the runbook section (`wavectl.kinds.decommission.task_spec`) as zlib+base64 JSON
in `WAVECTL_DECOMMISSION_SPEC`; the definition stays the same size whatever the scope. Shape:

    {"regions": [...], "tag": {"key": ..., "value": ...} | null, "arns": [...],
     "resource_types": ["rds:db", ...], "protected": {"arns": [...], "tag": "wavectl:protected"},
     "data_class_tag": "wavectl:data-class", "lookback_seconds": 2592000,
     "thresholds": {"lambda:function": 0, ...}, "accept_unproven": ["route53:record"],
     "retention": {"eu-payments": {"account": ..., "role_arn": ..., "region": ..., "period": "7y",
                   "mode": "COMPLIANCE", "bucket": ..., "kms_key": ..., "shared_kms_key": ...}},
     "cool_off_seconds": 604800, "abort_check_seconds": 43200}
"""

from __future__ import annotations

import calendar
import re
from datetime import datetime
from typing import Any

from tasks.common.settings import setting
from tasks.contracts import ENV_DECOMMISSION_SPEC, decode_spec, encode_spec

__all__ = ["decode_spec", "encode_spec", "retain_until", "wave_spec"]

RDS_DB, RDS_CLUSTER, S3_BUCKET = "rds:db", "rds:cluster", "s3:bucket"
LAMBDA_FUNCTION, EC2_INSTANCE, LOAD_BALANCER = "lambda:function", "ec2:instance", "elb:loadbalancer"
DYNAMODB_TABLE, ROUTE53_RECORD = "dynamodb:table", "route53:record"
RESOURCE_TYPES: tuple[str, ...] = (
    RDS_DB,
    RDS_CLUSTER,
    S3_BUCKET,
    LAMBDA_FUNCTION,
    EC2_INSTANCE,
    LOAD_BALANCER,
    DYNAMODB_TABLE,
    ROUTE53_RECORD,
)
DATA_STORES = frozenset({RDS_DB, RDS_CLUSTER, S3_BUCKET, DYNAMODB_TABLE})  # resources that hold data
PROTECTED_TAG = "wavectl:protected"
DATA_CLASS_TAG = "wavectl:data-class"

_PERIOD = re.compile(r"^\s*(\d+)\s*([dy])\s*$")


def wave_spec(event: dict[str, Any]) -> dict[str, Any]:
    """The spec of the event if it carries one (tests, redrives), else of the function's environment."""
    if event.get("spec"):
        return dict(event["spec"])
    return decode_spec(setting(ENV_DECOMMISSION_SPEC))


def retain_until(now: datetime, period: str) -> datetime:
    """`now` plus a retention period of days (`30d`) or calendar years (`7y`; 29 Feb -> 28 Feb)."""
    match = _PERIOD.match(period)
    if match is None:
        raise ValueError(f"retention period {period!r}: write days or years, e.g. 30d or 7y")
    count, unit = int(match.group(1)), match.group(2)
    if unit == "d":
        from datetime import timedelta

        return now + timedelta(days=count)
    year = now.year + count
    day = min(now.day, calendar.monthrange(year, now.month)[1])
    return now.replace(year=year, day=day)
