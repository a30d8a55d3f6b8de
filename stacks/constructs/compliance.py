"""Acknowledgements of the PCI DSS 3.2.1 and NIST 800-53 rev 5 cdk-nag packs that hold for every task
function and every role wavectl creates, with the reason each is safe. Findings specific to one
resource are acknowledged next to that resource."""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_

from stacks.constructs.nag import acknowledge

PCI = "PCI.DSS.321"
NIST = "NIST.800.53.R5"


def acknowledge_own_role(role: iam.IRole) -> None:
    """Each function and state machine has its own role, whose one policy is created and deleted with it."""
    reason = (
        "The role belongs to exactly one function or state machine and its statements are written for it "
        "(named resources, least privilege); a customer-managed policy would be attached to nothing else, "
        "so an inline default policy is the same grant with one less object to drift."
    )
    for pack in (PCI, NIST):
        acknowledge(role, f"{pack}-IAMNoInlinePolicy", reason)


def acknowledge_task_function(function: lambda_.IFunction) -> None:
    """Task Lambdas: invoked synchronously by Step Functions, reaching only AWS APIs and Slack."""
    outside_vpc = (
        "The function holds no network access to private resources: it calls AWS service APIs (IAM-signed, "
        "TLS) and Slack's HTTPS API only; databases are reached through the RDS control plane and Data "
        "API, never a VPC connection. A VPC would add NAT or endpoints and no control."
    )
    for pack in (PCI, NIST):
        acknowledge(function, f"{pack}-LambdaInsideVPC", outside_vpc)
    acknowledge(
        function,
        f"{NIST}-LambdaDLQ",
        "Invoked synchronously (Step Functions lambda:invoke, API Gateway, or an EventBridge rule with its "
        "own retry policy and dead-letter queue where it is asynchronous): a failure returns to the "
        "caller, whose Catch or retry handles it; a function-level DLQ would receive nothing.",
    )
    acknowledge(
        function,
        f"{NIST}-LambdaConcurrency",
        "Concurrency is bounded by the callers (a wave's Map max_concurrency, one execution per wave); "
        "reserving account concurrency per function would only take capacity from other workloads.",
    )
