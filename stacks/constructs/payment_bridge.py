"""The payment bridge: buckets, functions, EventBridge rules, the SFTP connector, the writer role.

    extract / Kubernetes ──PutObject──► inbound ──"Object Created" rule (the on/off switch)──► ingest
    ingest ──► outbound chunks + <batch>/manifest.json, quarantine
    outbound manifest ──rule──► transfer ──StartFileTransfer──► connector ──SFTP──► new owner
    "SFTP Connector File Send Completed/Failed" ──rule──► transfer (delivery record)
    ack-poll schedule ──► acks ──StartDirectoryListing──► acknowledgements/listings/
    listing ──rule──► acks ──StartFileTransfer(Retrieve)──► acknowledgements/received/ ──rule──► acks (index)

Every name the dual-run wave or the tool needs is derived from the program name
(`tasks.contracts.bridge_resource_name`), never looked up.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_transfer as transfer
from constructs import Construct

from stacks.constructs.access_log_bucket import access_log_bucket
from stacks.constructs.compliance import NIST, PCI, acknowledge_own_role
from stacks.constructs.nag import acknowledge
from stacks.constructs.task_function import TaskFunction
from tasks import contracts
from tasks.contracts import bridge_resource_name

NONCURRENT_VERSION_DAYS = 30  # overwritten/deleted versions kept this long for investigations
TRANSFER_RESULT_DETAIL_TYPES = ["SFTP Connector File Send Completed", "SFTP Connector File Send Failed"]
RETRIEVE_RESULT_DETAIL_TYPES = [
    "SFTP Connector File Retrieve Completed",
    "SFTP Connector File Retrieve Failed",
]
ACK_RETRIEVE_RESULT_RULE = "ack-retrieve-result"
STATE_TABLE = "state"
WRITER_ROLE = "k8s-writer"


class PaymentBridge(Construct):
    """See the module docstring. `settings` is the runbook's `PaymentBridgeSettings`."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        program: str,
        settings,
        key: kms.IKey,
        code: lambda_.Code,
        pipeline_environment: dict[str, str] | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.program = program
        self.settings = settings
        self.key = key
        self.code = code
        self.access_logs = self._access_log_bucket()
        buckets = settings.buckets
        self.inbound = self._bucket("Inbound", buckets.inbound.name)
        self.outbound = self._bucket("Outbound", buckets.outbound.name)
        self.quarantine = self._bucket("Quarantine", buckets.quarantine.name)
        self.acknowledgements = self._bucket("Acknowledgements", buckets.acknowledgements.name)
        self.table = self._state_table()
        self.credentials = self._credentials_secret()
        self.connector = self._connector()
        self.ingest = self._ingest_function(pipeline_environment or {})
        self.transfer = self._transfer_function()
        self.acks = self._acks_function()
        self.inbound_rule = self._rules()
        self.writer_role = self._kubernetes_writer()
        self._acknowledge_grants()

    def name(self, what: str) -> str:
        return bridge_resource_name(self.program, what)

    # ------------------------------------------------------------------ storage

    def _access_log_bucket(self) -> s3.Bucket:
        bucket = access_log_bucket(
            self, "AccessLogs", serves="the bridge's buckets", retention_days=self.settings.retention
        )
        _acknowledge_residency(bucket)
        return bucket

    def _bucket(self, construct_id: str, name: str) -> s3.Bucket:
        bucket = s3.Bucket(
            self,
            construct_id,
            bucket_name=name,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key,
            bucket_key_enabled=True,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=True,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix=f"{name}/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="retention",
                    expiration=Duration.days(self.settings.retention),
                    noncurrent_version_expiration=Duration.days(NONCURRENT_VERSION_DAYS),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )
        self._send_events_to_eventbridge(bucket)
        _acknowledge_residency(bucket)
        return bucket

    @staticmethod
    def _send_events_to_eventbridge(bucket: s3.Bucket) -> None:
        """S3 -> EventBridge, as a bucket property (CDK's `event_bridge_enabled` adds a custom-resource
        Lambda to set it; the property needs none)."""
        cfn: s3.CfnBucket = bucket.node.default_child
        cfn.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
            event_bridge_configuration=s3.CfnBucket.EventBridgeConfigurationProperty(
                event_bridge_enabled=True
            )
        )

    def _state_table(self) -> dynamodb.Table:
        """Deliveries (delivery#<file>) and acknowledgements (ack#<file>): what was sent and came back."""
        table = dynamodb.Table(
            self,
            "State",
            table_name=self.name(STATE_TABLE),
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="sk", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=self.key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            removal_policy=RemovalPolicy.RETAIN,
        )
        acknowledge(
            table,
            f"{NIST}-DynamoDBInBackupPlan",
            "Working state of the transfers (claims, delivery results, acknowledgement index) with "
            "point-in-time recovery (35 days); the files themselves, the manifests and the acknowledgements "
            "are kept in the versioned bridge buckets for the runbook's retention.",
        )
        return table

    # ------------------------------------------------------------------ SFTP connector

    def _credentials_secret(self) -> secretsmanager.Secret:
        secret = secretsmanager.Secret(
            self,
            "SftpCredentials",
            secret_name=self.settings.sftp.credentials_secret,
            description=(
                'SFTP connector credentials for the new owner\'s endpoint: JSON {"Username", "PrivateKey"} '
                "(put the value after the first deploy; the public key goes to the new owner)"
            ),
            encryption_key=self.key,
            removal_policy=RemovalPolicy.RETAIN,
        )
        acknowledge(
            secret,
            "AwsSolutions-SMG4",
            "The SFTP key pair is rotated together with the new owner (they must authorise the new public "
            "key before the old one is withdrawn, see docs/payment-bridge.md); an automatic rotation "
            "Lambda cannot do that handshake.",
        )
        acknowledge(
            secret,
            f"{NIST}-SecretsManagerRotationEnabled",
            "The SFTP key pair is rotated together with the new owner, who must authorise the new public key "
            "before the old one is withdrawn (docs/payment-bridge.md, SFTP trust model).",
        )
        return secret

    def _connector(self) -> transfer.CfnConnector:
        sftp = self.settings.sftp
        access = iam.Role(
            self,
            "ConnectorAccessRole",
            role_name=self.name("connector-access"),  # named in the program key's policy
            assumed_by=iam.ServicePrincipal("transfer.amazonaws.com"),
            description="payment bridge connector: read outbound, write acknowledgements",
        )
        self.outbound.grant_read(access)
        self.acknowledgements.grant_put(access, f"{contracts.BRIDGE_ACK_LISTINGS_PREFIX}*")
        self.acknowledgements.grant_put(access, f"{contracts.BRIDGE_ACK_RECEIVED_PREFIX}*")
        self.credentials.grant_read(access)
        logging = iam.Role(
            self,
            "ConnectorLoggingRole",
            role_name=self.name("connector-logging"),
            assumed_by=iam.ServicePrincipal("transfer.amazonaws.com"),
            description="Transfer Family connector of the payment bridge: write its transfer logs",
        )
        logging.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[
                    Stack.of(self).format_arn(
                        service="logs",
                        resource="log-group",
                        resource_name="/aws/transfer/*",
                        arn_format=_colon(),
                    )
                ],
            )
        )
        connector = transfer.CfnConnector(
            self,
            "Connector",
            url=f"sftp://{sftp.host}:{sftp.port}",
            access_role=access.role_arn,
            logging_role=logging.role_arn,
            sftp_config=transfer.CfnConnector.SftpConfigProperty(
                trusted_host_keys=[sftp.host_key],
                user_secret_id=self.credentials.secret_arn,
            ),
        )
        self._acknowledge_connector_roles(access, logging)
        acknowledge_own_role(access)
        acknowledge_own_role(logging)
        return connector

    def _acknowledge_connector_roles(self, access: iam.Role, logging: iam.Role) -> None:
        acknowledge(
            logging,
            f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:{Stack.of(self).region}:"
            f"{Stack.of(self).account}:log-group:/aws/transfer/*]",
            "A connector logs to /aws/transfer/<connector id>, a name Transfer Family picks after the role "
            "exists; the pattern is limited to Transfer Family's log groups in this account and region.",
        )

    # ------------------------------------------------------------------ functions

    def _function(
        self, task: str, handler: str, description: str, timeout: int, memory: int, env
    ) -> TaskFunction:
        function = TaskFunction(
            self,
            f"Task-{task}",
            function_name=f"{self.program}-{task}"[:64],
            handler=handler,
            code=self.code,
            description=description,
            timeout=Duration.seconds(timeout),
            memory_mb=memory,
            environment={contracts.ENV_PROGRAM: self.program, **env},
            log_key=self.key,
        )
        return function

    def _ingest_function(self, pipeline_environment: dict[str, str]) -> TaskFunction:
        function = self._function(
            contracts.BRIDGE_INGEST_TASK,
            "tasks.payments.ingest.handler",
            "payment bridge: validate, enrich and chunk a payment file that arrived in inbound",
            timeout=900,
            memory=1024,
            env={
                contracts.ENV_BRIDGE_OUTBOUND_BUCKET: self.outbound.bucket_name,
                contracts.ENV_BRIDGE_QUARANTINE_BUCKET: self.quarantine.bucket_name,
                contracts.ENV_KMS_KEY: self.key.key_arn,
                **pipeline_environment,
            },
        )
        self.inbound.grant_read(function.role)
        self.outbound.grant_read_write(function.role)
        self.quarantine.grant_read_write(function.role)
        return function

    def _grant_table(self, function: TaskFunction, *actions: str) -> None:
        """The delivery table calls the function's code makes (tests/workflows/test_least_privilege.py)."""
        self.table.grant(function.role, *actions)
        if self.table.encryption_key is not None:
            self.table.encryption_key.grant_encrypt_decrypt(function.role)

    def _transfer_environment(self) -> dict[str, str]:
        return {
            contracts.ENV_BRIDGE_TABLE: self.table.table_name,
            contracts.ENV_BRIDGE_CONNECTOR_ID: self.connector.attr_connector_id,
            contracts.ENV_BRIDGE_REMOTE_OUTBOUND: self.settings.remote_directories.outbound,
            contracts.ENV_BRIDGE_REMOTE_ACKNOWLEDGEMENTS: self.settings.remote_directories.acknowledgements,
            contracts.ENV_BRIDGE_ACK_BUCKET: self.acknowledgements.bucket_name,
        }

    def _connector_statement(self, *actions: str) -> iam.PolicyStatement:
        return iam.PolicyStatement(actions=list(actions), resources=[self.connector.attr_arn])

    def _transfer_function(self) -> TaskFunction:
        function = self._function(
            contracts.BRIDGE_TRANSFER_TASK,
            "tasks.payments.transfer.handler",
            "payment bridge: re-check a batch manifest, send its chunks through the SFTP connector, once",
            timeout=300,
            memory=512,
            env=self._transfer_environment(),
        )
        self.outbound.grant_read(function.role)
        self._grant_table(function, "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem")
        function.role.add_to_policy(self._connector_statement("transfer:StartFileTransfer"))
        return function

    def _acks_function(self) -> TaskFunction:
        function = self._function(
            contracts.BRIDGE_ACKS_TASK,
            "tasks.payments.acks.handler",
            "payment bridge: fetch the new owner's acknowledgements, check and index them",
            timeout=300,
            memory=512,
            env=self._transfer_environment(),
        )
        self.acknowledgements.grant_read(function.role)
        self.acknowledgements.grant_delete(function.role, f"{contracts.BRIDGE_ACK_LISTINGS_PREFIX}*")
        self.acknowledgements.grant_put(function.role, f"{contracts.BRIDGE_ACK_INDEX_PREFIX}*")
        self._grant_table(function, "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")
        function.role.add_to_policy(
            self._connector_statement("transfer:StartFileTransfer", "transfer:StartDirectoryListing")
        )
        return function

    def _acknowledge_grants(self) -> None:
        """CDK's bucket and key grants to the bridge's own roles, finding by finding."""
        stack = Stack.of(self)
        families = {
            "s3:GetObject*": "read objects (GetObject, GetObjectVersion, ...)",
            "s3:GetBucket*": "read bucket attributes for the SDK's object reads",
            "s3:List*": "list the bridge's own bucket",
            "s3:DeleteObject*": "delete objects (and versions) the function owns",
            "s3:Abort*": "abort its own multipart uploads",
            "kms:ReEncrypt*": "re-encrypt with the program key (SSE-KMS)",
            "kms:GenerateDataKey*": "data keys of the program key (SSE-KMS)",
        }
        for action, what in families.items():
            acknowledge(
                self,
                f"AwsSolutions-IAM5[Action::{action}]",
                f"CDK's grant family to {what}, on the bridge's named buckets and the program key only.",
            )
        objects = {
            self.inbound: ("*",),
            self.outbound: ("*",),
            self.quarantine: ("*",),
            self.acknowledgements: (
                "*",
                contracts.BRIDGE_ACK_LISTINGS_PREFIX + "*",
                contracts.BRIDGE_ACK_RECEIVED_PREFIX + "*",
                contracts.BRIDGE_ACK_INDEX_PREFIX + "*",
            ),
        }
        for bucket, patterns in objects.items():
            logical_id = stack.get_logical_id(bucket.node.default_child)
            for pattern in patterns:
                acknowledge(
                    self,
                    f"AwsSolutions-IAM5[Resource::<{logical_id}.Arn>/{pattern}]",
                    "Object-level S3 actions name objects, and the object names (payment files, chunks, "
                    "acknowledgements) are made at run time: the grant is limited to this bridge bucket "
                    "(and to a prefix of it where the role writes only there).",
                )

    # ------------------------------------------------------------------ rules

    def _rules(self) -> events.Rule:
        inbound = events.Rule(
            self,
            "InboundRule",
            rule_name=self.name(contracts.BRIDGE_INBOUND_RULE),
            description="Payment bridge on/off switch: a payment file in inbound -> validate/enrich/chunk",
            event_pattern=_object_created(self.inbound.bucket_name),
            targets=[targets.LambdaFunction(self.ingest.function, retry_attempts=2)],
        )
        events.Rule(
            self,
            "OutboundRule",
            rule_name=self.name(contracts.BRIDGE_OUTBOUND_RULE),
            description="Payment bridge: a batch manifest in outbound -> transfer its chunks",
            event_pattern=_object_created(
                self.outbound.bucket_name, key=events.Match.suffix(f"/{_manifest_name()}")
            ),
            targets=[targets.LambdaFunction(self.transfer.function, retry_attempts=2)],
        )
        events.Rule(
            self,
            "TransferResultRule",
            rule_name=self.name(contracts.BRIDGE_TRANSFER_RESULT_RULE),
            description="Payment bridge: SFTP connector send results -> record the delivery",
            event_pattern=_transfer_result(self.connector.attr_connector_id, TRANSFER_RESULT_DETAIL_TYPES),
            targets=[targets.LambdaFunction(self.transfer.function, retry_attempts=2)],
        )
        events.Rule(
            self,
            "AcknowledgementsRule",
            rule_name=self.name(contracts.BRIDGE_ACKS_RULE),
            description="Payment bridge: a listing or an acknowledgement arrived -> fetch or index it",
            event_pattern=_object_created(
                self.acknowledgements.bucket_name,
                key=events.Match.any_of(
                    events.Match.prefix(contracts.BRIDGE_ACK_LISTINGS_PREFIX),
                    events.Match.prefix(contracts.BRIDGE_ACK_RECEIVED_PREFIX),
                ),
            ),
            targets=[targets.LambdaFunction(self.acks.function, retry_attempts=2)],
        )
        events.Rule(
            self,
            "AckRetrieveResultRule",
            rule_name=self.name(ACK_RETRIEVE_RESULT_RULE),
            description="Payment bridge: SFTP connector retrieve results -> release failed acknowledgements",
            event_pattern=_transfer_result(self.connector.attr_connector_id, RETRIEVE_RESULT_DETAIL_TYPES),
            targets=[targets.LambdaFunction(self.acks.function, retry_attempts=2)],
        )
        events.Rule(
            self,
            "AckPollRule",
            rule_name=self.name(contracts.BRIDGE_ACK_POLL_RULE),
            description="Payment bridge: list the new owner's acknowledgement directory",
            schedule=events.Schedule.rate(Duration.minutes(contracts.BRIDGE_ACK_POLL_MINUTES)),
            targets=[targets.LambdaFunction(self.acks.function, retry_attempts=0)],
        )
        return inbound

    # ------------------------------------------------------------------ Kubernetes writer (IRSA)

    def _kubernetes_writer(self) -> iam.Role | None:
        writer = getattr(self.settings, "kubernetes_writer", None)
        if writer is None:
            return None
        issuer = writer.oidc_issuer.removeprefix("https://")
        stack = Stack.of(self)
        provider_arn = f"arn:{stack.partition}:iam::{stack.account}:oidc-provider/{issuer}"
        role = iam.Role(
            self,
            "KubernetesWriterRole",
            role_name=self.name(WRITER_ROLE),
            description=(
                f"IRSA: service account {writer.namespace}/{writer.service_account} writes payment extracts "
                f"under {writer.prefix} of the inbound bucket, nothing else"
            ),
            assumed_by=iam.WebIdentityPrincipal(
                provider_arn,
                conditions={
                    "StringEquals": {
                        f"{issuer}:sub": f"system:serviceaccount:{writer.namespace}:{writer.service_account}",
                        f"{issuer}:aud": "sts.amazonaws.com",
                    }
                },
            ),
            max_session_duration=Duration.hours(1),
        )
        acknowledge_own_role(role)
        role.add_to_policy(
            iam.PolicyStatement(
                sid="PutPaymentExtractsUnderTheWriterPrefix",
                actions=["s3:PutObject"],
                resources=[self.inbound.arn_for_objects(f"{writer.prefix}*")],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="EncryptThroughS3WithTheProgramKey",
                actions=["kms:GenerateDataKey", "kms:Encrypt"],
                resources=[self.key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"s3.{stack.region}.amazonaws.com"}},
            )
        )
        inbound_id = Stack.of(self).get_logical_id(self.inbound.node.default_child)
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::<{inbound_id}.Arn>/{writer.prefix}*]",
            f"PutObject only, under {writer.prefix} of the inbound bucket (each extract is a new object).",
        )
        return role


def _acknowledge_residency(bucket: s3.IBucket) -> None:
    for pack in (PCI, NIST):
        acknowledge(
            bucket,
            f"{pack}-S3BucketReplicationEnabled",
            "Payment data of the eu-payments class stays in the regions the runbook's residency allows "
            "(checked at validate); versioning keeps every object's history, which is what replication would "
            "otherwise guard against.",
        )


def _manifest_name() -> str:
    return contracts.BRIDGE_MANIFEST_NAME


def _object_created(bucket_name: str, key: list[str] | None = None) -> events.EventPattern:
    detail: dict = {"bucket": {"name": [bucket_name]}}
    if key is not None:
        detail["object"] = {"key": key}
    return events.EventPattern(source=["aws.s3"], detail_type=["Object Created"], detail=detail)


def _transfer_result(connector_id: str, detail_types: list[str]) -> events.EventPattern:
    return events.EventPattern(
        source=["aws.transfer"], detail_type=detail_types, detail={"connector-id": [connector_id]}
    )


def _colon():
    from aws_cdk import ArnFormat

    return ArnFormat.COLON_RESOURCE_NAME
