"""Task code of the `dns-cutover` wave kind: Route 53 weighted shift watched by CloudWatch alarms."""
