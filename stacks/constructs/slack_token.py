"""Read access to the program's Slack bot token: one secret, by name, and the key it is encrypted with."""

from __future__ import annotations

from aws_cdk import Aws
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms

from stacks.constructs.nag import acknowledge
from stacks.constructs.task_function import TaskFunction


def grant_slack_bot_token(function: TaskFunction, secret_name: str, key: kms.IKey) -> None:
    """GetSecretValue on the bot token secret `secret_name` and Decrypt with the program key `key`."""
    secret = f"arn:{Aws.PARTITION}:secretsmanager:{Aws.REGION}:{Aws.ACCOUNT_ID}:secret:{secret_name}-??????"
    function.role.add_to_policy(
        iam.PolicyStatement(
            sid="SlackBotToken", actions=["secretsmanager:GetSecretValue"], resources=[secret]
        )
    )
    function.role.add_to_policy(
        iam.PolicyStatement(sid="DecryptSlackBotToken", actions=["kms:Decrypt"], resources=[key.key_arn])
    )
    acknowledge(
        function.role,
        f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:"
        f"secret:{secret_name}-??????]",
        "The Slack bot token secret by name; '-??????' is the random suffix Secrets Manager adds.",
    )
