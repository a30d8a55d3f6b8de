"""Lambda entry: publish pending-approval metrics (scheduled every 5 minutes)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from tasks import contracts as c
from tasks.common.aws import own_session
from tasks.common.settings import setting
from tasks.dashboard.approvals import metric_lines, pending_by_wave


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    waves = json.loads(setting(c.ENV_DASHBOARD_WAVES))
    by_wave = pending_by_wave(own_session().client("dynamodb"), setting(c.ENV_APPROVALS_TABLE))
    for line in metric_lines(by_wave, waves, datetime.now(UTC)):
        print(line)  # the embedded metric format: CloudWatch Logs extracts the metrics
    return {"pending": {wave: len(times) for wave, times in by_wave.items()}}
