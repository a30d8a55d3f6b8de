"""Lambda entry of the common frame's guard task."""

from __future__ import annotations

from typing import Any

from tasks.common.aws import own_session
from tasks.common.logging import logger
from tasks.frame.guard import run_guard


def guard(event: dict[str, Any], context: Any) -> dict[str, Any]:
    logger().info("checking request", extra={"wave": event.get("wave"), "execution": event.get("execution")})
    return run_guard(event, own_session().client("stepfunctions"))
