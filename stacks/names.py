"""Names the control plane gives its resources and the wave stacks refer to (no cross-stack lookups)."""

from __future__ import annotations

from wavectl.runbook import Runbook


def request_function_export(program: str) -> str:
    """CloudFormation export name of the control plane's approval request function ARN."""
    return f"{program}-approval-request-function-arn"


def evidence_bucket_name(runbook: Runbook) -> str:
    return runbook.evidence_bucket_name()
