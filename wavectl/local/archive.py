"""The EventBridge delivery moto does not make: on AWS, a rule sends every "Step Functions Execution
Status Change" of an ended execution to the evidence archive function. Locally the runner and
`local up` call `deliver_execution_end` when they see an execution end, with the same event."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from tasks.contracts import ENDED_STATUSES, EVIDENCE_ARCHIVE_TASK, EXECUTION_STATUS_CHANGE
from wavectl.runbook import Runbook


def _millis(value: Any) -> int | None:
    return int(value.timestamp() * 1000) if isinstance(value, datetime) else None


def status_change_event(described: dict[str, Any], account: str, region: str) -> dict[str, Any]:
    """The EventBridge event AWS sends when an execution changes status (as documented)."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": EXECUTION_STATUS_CHANGE,
        "source": "aws.states",
        "account": account,
        "time": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "region": region,
        "resources": [described["executionArn"]],
        "detail": {
            "executionArn": described["executionArn"],
            "stateMachineArn": described["stateMachineArn"],
            "name": described.get("name"),
            "status": described["status"],
            "startDate": _millis(described.get("startDate")),
            "stopDate": _millis(described.get("stopDate")),
            "input": described.get("input"),
            "output": described.get("output"),
            "error": described.get("error"),
            "cause": described.get("cause"),
        },
    }


# EventBridge invokes its Lambda target asynchronously: the Lambda service retries a failed asynchronous
# invocation twice (the function's default MaximumRetryAttempts), so the same event arrives up to 3 times.
ASYNC_INVOKE_ATTEMPTS = 3


def deliver_execution_end(session: Any, runbook: Runbook, execution_arn: str) -> dict[str, Any] | None:
    """Invoke the archive function for an ended execution (retried as an asynchronous invocation is);
    its result, or None if it is not ended or the deployed program has no archive function."""
    sfn = session.client("stepfunctions")
    described = sfn.describe_execution(executionArn=execution_arn)
    if described["status"] not in ENDED_STATUSES:
        return None
    event = status_change_event(described, runbook.program.accounts.tooling, session.region_name)
    lambdas = session.client("lambda")
    for _attempt in range(ASYNC_INVOKE_ATTEMPTS):
        try:
            response = lambdas.invoke(
                FunctionName=runbook.control_function_name(EVIDENCE_ARCHIVE_TASK),
                Payload=json.dumps(event).encode(),
            )
        except lambdas.exceptions.ResourceNotFoundException:
            return None
        result = json.loads(response["Payload"].read() or b"null")
        if not response.get("FunctionError"):
            return result
    raise RuntimeError(f"evidence archive failed for {execution_arn}: {result}")
