"""The evidence archive: an execution's history, definition, input, approvals and task evidence,
copied into the evidence bucket when the execution ends (Step Functions keeps history 90 days)."""
