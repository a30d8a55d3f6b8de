"""Task Lambdas of the `decommission` wave kind: inventory, usage proof, retention, disable, delete."""
