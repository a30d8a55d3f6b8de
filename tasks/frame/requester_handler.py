"""Lambda entry of the common frame's requester step (see tasks/frame/requester.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import boto3

from tasks.approvals import identity
from tasks.common.aws import own_session
from tasks.common.logging import logger
from tasks.frame.requester import resolve_requester


def resolve(event: dict[str, Any], context: Any) -> dict[str, Any]:
    cloudtrail = own_session().client("cloudtrail", config=identity.CLIENT_CONFIG)
    result = resolve_requester(event, lambda execution, started: _lookup(cloudtrail, execution, started))
    logger().info(
        "requester resolved", extra={"source": result["source"], "execution": event.get("execution")}
    )
    return result


def _lookup(cloudtrail: boto3.client, execution: str, started: datetime) -> identity.Principal | None:
    return identity.lookup_start_execution(cloudtrail, execution, started)
