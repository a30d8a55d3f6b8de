"""The program's shared infrastructure: key, approvals table, evidence archive, Slack secrets."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from stacks.constructs.nag import acknowledge
from stacks.workflows.context import ControlPlaneRefs
from wavectl.runbook import Runbook

EVIDENCE_RETENTION_DAYS = 7 * 365  # financial-services record keeping (MiFID II / SEC 17a-4 order)


def evidence_bucket_name(runbook: Runbook) -> str:
    program = runbook.program
    return f"{program.program}-evidence-{program.accounts.tooling}-{program.home_region}"[:63]


def approvals_table_name(runbook: Runbook) -> str:
    return f"{runbook.program.program}-approvals"


class ControlPlaneStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, runbook: Runbook, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        program = runbook.program
        self.key = self._key(program.program)
        self.access_logs = self._access_log_bucket()
        self.evidence_bucket = self._evidence_bucket(evidence_bucket_name(runbook))
        self.approvals_table = self._approvals_table(approvals_table_name(runbook))
        self.slack_signing_secret = self._secret(
            "SlackSigningSecret", program.slack.signing_secret, "signing secret"
        )
        self.slack_bot_token = self._secret("SlackBotToken", program.slack.bot_token, "bot token")

    @property
    def refs(self) -> ControlPlaneRefs:
        return ControlPlaneRefs(
            key=self.key, approvals_table=self.approvals_table, evidence_bucket=self.evidence_bucket
        )

    def _key(self, program: str) -> kms.Key:
        key = kms.Key(
            self,
            "Key",
            alias=f"alias/{program}-wavectl",
            description=f"wavectl {program}: approvals, evidence, secrets and logs",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchLogsUseForWavectlLogGroups",
                principals=[iam.ServicePrincipal(f"logs.{self.region}.amazonaws.com")],
                actions=[
                    "kms:Encrypt*",
                    "kms:Decrypt*",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:Describe*",
                ],
                resources=["*"],  # in a key policy "*" means this key
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:{self.region}:{self.account}:*"
                    }
                },
            )
        )
        return key

    def _access_log_bucket(self) -> s3.Bucket:
        bucket = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,  # S3 server access logs cannot be written with SSE-KMS
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            versioned=True,
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(EVIDENCE_RETENTION_DAYS))],
        )
        acknowledge(
            bucket, "AwsSolutions-S1", "This is the access-log bucket; logging it to itself would loop."
        )
        return bucket

    def _evidence_bucket(self, name: str) -> s3.Bucket:
        return s3.Bucket(
            self,
            "Evidence",
            bucket_name=name,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key,
            bucket_key_enabled=True,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            versioned=True,
            object_lock_enabled=True,
            # Governance mode: immutable to everyone without s3:BypassGovernanceRetention, which
            # no wavectl role has; compliance mode would bind even rehearsal accounts for 7 years.
            object_lock_default_retention=s3.ObjectLockRetention.governance(
                Duration.days(EVIDENCE_RETENTION_DAYS)
            ),
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="evidence/",
            removal_policy=RemovalPolicy.RETAIN,
        )

    def _approvals_table(self, name: str) -> dynamodb.Table:
        table = dynamodb.Table(
            self,
            "Approvals",
            table_name=name,
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="sk", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=self.key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute="expires_ttl",
            removal_policy=RemovalPolicy.RETAIN,
        )
        table.add_global_secondary_index(
            index_name="by-status",
            partition_key=dynamodb.Attribute(name="status", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="expires_at", type=dynamodb.AttributeType.STRING),
        )
        return table

    def _secret(self, construct_id: str, name: str, what: str) -> secretsmanager.Secret:
        secret = secretsmanager.Secret(
            self,
            construct_id,
            secret_name=name,
            description=f"Slack {what} for wavectl approvals (set its value after the first deploy)",
            encryption_key=self.key,
            removal_policy=RemovalPolicy.RETAIN,
        )
        acknowledge(
            secret,
            "AwsSolutions-SMG4",
            f"The Slack {what} is issued by Slack and rotated in Slack's app settings; "
            "AWS cannot rotate it, the owner re-puts it after rotating in Slack.",
        )
        return secret
