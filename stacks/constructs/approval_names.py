"""Names shared by the control plane (which exports them) and approval gates (which import them)."""

from __future__ import annotations


def request_function_export(program: str) -> str:
    """CloudFormation export name of the control plane's approval request function ARN."""
    return f"{program}-approval-request-function-arn"
