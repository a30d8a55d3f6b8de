"""Metrics the control plane's CloudWatch dashboard shows that Step Functions does not publish."""
