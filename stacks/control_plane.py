"""The program's shared infrastructure: key, approvals table, evidence archive, Slack secrets."""

from __future__ import annotations

import json

from aws_cdk import ArnFormat, CfnOutput, Duration, Fn, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from stacks import key_policy, operations
from stacks.constructs.access_log_bucket import access_log_bucket
from stacks.constructs.compliance import NIST, PCI
from stacks.constructs.evidence_grant import grant_evidence_write
from stacks.constructs.nag import acknowledge
from stacks.constructs.task_function import TaskFunction
from stacks.names import evidence_bucket_name, request_function_export
from stacks.workflows.context import ControlPlaneRefs
from tasks import contracts
from tasks.contracts import STATUS_INDEX_ATTRIBUTES
from wavectl.runbook import Runbook

GET_ITEM, PUT_ITEM, UPDATE_ITEM, QUERY = (
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:Query",
)

EVIDENCE_RETENTION_DAYS = 7 * 365  # financial-services record keeping (MiFID II / SEC 17a-4 order)


def _waf_visibility(metric: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=metric, sampled_requests_enabled=True
    )


def _acknowledge_home_region_only(bucket: s3.IBucket) -> None:
    for pack in (PCI, NIST):
        acknowledge(
            bucket,
            f"{pack}-S3BucketReplicationEnabled",
            "Evidence of a regulated program stays in its home region (residency); versioning and Object "
            "Lock protect it against deletion, which is what replication would otherwise guard against.",
        )


class ControlPlaneStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, runbook: Runbook, code: lambda_.Code, **kwargs
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        program = runbook.program
        self.key = self._key(program.program)
        self.access_logs = self._access_log_bucket()
        self.evidence_bucket = self._evidence_bucket(evidence_bucket_name(runbook))
        self.approvals_table = self._approvals_table(runbook.approvals_table_name())
        self.slack_signing_secret = self._secret(
            "SlackSigningSecret", program.slack.signing_secret, "signing secret"
        )
        self.slack_bot_token = self._secret("SlackBotToken", program.slack.bot_token, "bot token")
        self.runbook = runbook
        self.code = code
        self.approval_request = self._approval_request()
        self.approval_callback = self._approval_callback()
        self.approval_reminders = self._approval_reminders()
        self.approvals_api = self._approvals_api()
        self.evidence_retention_days = EVIDENCE_RETENTION_DAYS
        self.evidence_archive = operations.add_evidence_archive(self)  # on every execution end
        self.approval_metrics = operations.add_approval_metrics(self)
        self.dashboard = operations.add_dashboard(self)
        self.approver_role = self._approver_role()
        self._refs = self._make_refs()

    @property
    def refs(self) -> ControlPlaneRefs:
        return self._refs

    def _make_refs(self) -> ControlPlaneRefs:
        """What wave stacks use. The request function is reached through a named export, so the
        wave stacks' grants on it have a stable name (and cdk-nag acknowledgement id)."""
        export = request_function_export(self.runbook.program.program)
        CfnOutput(
            self,
            "ApprovalRequestFunctionArn",
            value=self.approval_request.function.function_arn,
            export_name=export,
        )
        request_function = lambda_.Function.from_function_attributes(
            self, "ApprovalRequestForWaves", function_arn=Fn.import_value(export), same_environment=True
        )
        return ControlPlaneRefs(
            key=self.key,
            approvals_table=self.approvals_table,
            evidence_bucket=self.evidence_bucket,
            approval_request_function=request_function,
        )

    def _key(self, program: str) -> kms.Key:
        """The program key. Its policy names who may administer and use it (stacks/key_policy.py); it
        is written once every stack of the program is built (`name_the_key_users`)."""
        return kms.Key(
            self,
            "Key",
            alias=f"alias/{program}-wavectl",
            description=f"wavectl {program}: approvals, evidence, secrets, logs and the state machines",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )

    def name_the_key_users(self, stacks: list[Stack]) -> dict[str, frozenset[str]]:
        """Write the key's policy: the operators' and admins' roles from program.yaml, the services, and
        each role of `stacks` (the program's stacks in this account) that its IAM policies let use the key."""
        operators = self.runbook.program.operators
        base = key_policy.base_statements(self, operators.roles, operators.key_admins)
        return key_policy.name_the_key_users(self.key, base, stacks)

    def _access_log_bucket(self) -> s3.Bucket:
        bucket = access_log_bucket(
            self, "AccessLogs", serves="the evidence bucket", retention_days=EVIDENCE_RETENTION_DAYS
        )
        _acknowledge_home_region_only(bucket)
        return bucket

    def _evidence_bucket(self, name: str) -> s3.Bucket:
        bucket = s3.Bucket(
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
        _acknowledge_home_region_only(bucket)
        return bucket

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
        acknowledge(
            table,
            f"{NIST}-DynamoDBInBackupPlan",
            "The table is working state of open gates, with point-in-time recovery (35 days); every "
            "decision is also written once to the Object Lock evidence bucket, which is the record kept.",
        )
        table.add_global_secondary_index(
            index_name="by-status",
            partition_key=dynamodb.Attribute(name="status", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="expires_at", type=dynamodb.AttributeType.STRING),
            # never the task token: whoever may query the index (operators' `wavectl approvals`)
            # must not be able to resume a wave with what it returns
            projection_type=dynamodb.ProjectionType.INCLUDE,
            non_key_attributes=list(STATUS_INDEX_ATTRIBUTES),
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
        acknowledge(
            secret,
            f"{NIST}-SecretsManagerRotationEnabled",
            f"The Slack {what} is issued by Slack and can only be rotated in Slack's app settings.",
        )
        return secret

    # ------------------------------------------------------------------------- approvals

    def _approvals_environment(self) -> dict[str, str]:
        program = self.runbook.program
        approvers = {
            group: [m.model_dump(include={"slack", "name", "iam"}) for m in members]
            for group, members in program.approvers.items()
        }
        return {
            contracts.ENV_PROGRAM: program.program,
            contracts.ENV_APPROVALS_TABLE: self.approvals_table.table_name,
            contracts.ENV_EVIDENCE_BUCKET: self.evidence_bucket.bucket_name,
            contracts.ENV_KMS_KEY: self.key.key_arn,
            contracts.ENV_SLACK_CHANNEL: program.slack.channel,
            contracts.ENV_SLACK_BOT_TOKEN_SECRET: program.slack.bot_token,
            contracts.ENV_SLACK_SIGNING_SECRET: program.slack.signing_secret,
            contracts.ENV_APPROVERS: json.dumps(approvers, separators=(",", ":")),
        }

    def _approvals_function(
        self, task: str, handler: str, description: str, timeout: int, table_actions: tuple[str, ...]
    ) -> TaskFunction:
        """`table_actions`: the DynamoDB calls its code makes on the approvals table (held by
        tests/workflows/test_least_privilege.py against the calls recorded in the embedded runs)."""
        function = TaskFunction(
            self,
            f"Task-{task}",
            function_name=self.runbook.control_function_name(task),
            handler=handler,
            code=self.code,
            description=description,
            timeout=Duration.seconds(timeout),
            memory_mb=512,
            environment=self._approvals_environment(),
            log_key=self.key,
        )
        self.approvals_table.grant(function.role, *table_actions)  # the table and its by-status index
        self.key.grant_encrypt_decrypt(function.role)  # DynamoDB encrypts the items under the program key
        self.grant_secret_value(self.slack_bot_token, function)
        self._acknowledge_data_grants(function)
        return function

    def grant_secret_value(self, secret: secretsmanager.ISecret, function: TaskFunction) -> None:
        """GetSecretValue only (`grant_read` adds DescribeSecret, which no task calls); Secrets Manager
        decrypts with the program key for the caller."""
        function.role.add_to_policy(
            iam.PolicyStatement(actions=["secretsmanager:GetSecretValue"], resources=[secret.secret_arn])
        )
        self.key.grant_decrypt(function.role)

    def _state_machines_arn(self, resource: str) -> str:
        return self.format_arn(
            service="states",
            resource=resource,
            resource_name=f"{self.runbook.program.program}-*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )

    def _approval_request(self) -> TaskFunction:
        function = self._approvals_function(
            contracts.APPROVAL_REQUEST_TASK,
            "tasks.approvals.request.handler",
            "approval gates: store the task token, post the Slack request; record timeouts",
            timeout=30,
            table_actions=(GET_ITEM, PUT_ITEM, UPDATE_ITEM, QUERY),  # open, claim and post, thread root
        )
        self._grant_evidence_put(function)
        function.role.add_to_policy(
            iam.PolicyStatement(
                sid="DescribeWaveExecutionsForDefinitionDigest",
                actions=["states:DescribeExecution", "states:DescribeStateMachineForExecution"],
                resources=[self._state_machines_arn("execution") + ":*"],
            )
        )
        function.role.add_to_policy(
            iam.PolicyStatement(
                sid="DescribeWaveVersionsForDefinitionDigest",
                actions=["states:DescribeStateMachine"],
                resources=[
                    self._state_machines_arn("stateMachine"),
                    self._state_machines_arn("stateMachine") + ":*",
                ],
            )
        )
        reason = (
            "Describe only: the program's wave state machines (named <program>-<wave>), their versions "
            "and executions, created by the wave stacks after this one."
        )
        for resource in (
            self._nag_arn("execution") + ":*",
            self._nag_arn("stateMachine"),
            self._nag_arn("stateMachine") + ":*",
        ):
            acknowledge(function.role, f"AwsSolutions-IAM5[Resource::{resource}]", reason)
        self._grant_requester_lookup(function)
        return function

    def _grant_requester_lookup(self, function: TaskFunction) -> None:
        """cloudtrail:LookupEvents, to find the authenticated StartExecution caller (the requester)."""
        function.role.add_to_policy(
            iam.PolicyStatement(
                sid="LookUpStartExecutionCallerInCloudTrail",
                actions=["cloudtrail:LookupEvents"],
                resources=["*"],
            )
        )
        acknowledge(
            function.role,
            "AwsSolutions-IAM5[Resource::*]",
            "cloudtrail:LookupEvents supports no resource-level permissions (the service authorization "
            "reference lists no resource type for it), so it needs Resource *. Read-only; granted only "
            "to the approval request and reminder functions, to find the StartExecution caller.",
        )

    def _approval_callback(self) -> TaskFunction:
        function = self._approvals_function(
            contracts.APPROVAL_CALLBACK_TASK,
            "tasks.approvals.callback.handler",
            "approval gates: Slack interactivity and the IAM-signed CLI fallback; sends task results",
            timeout=10,
            table_actions=(GET_ITEM, PUT_ITEM, UPDATE_ITEM),  # read, replay guard, votes and decisions
        )
        self.grant_secret_value(self.slack_signing_secret, function)
        self._grant_evidence_put(function)
        # The only principal allowed to resume or fail a waiting gate.
        function.role.add_to_policy(
            iam.PolicyStatement(
                sid="SendTaskResultsOfWaveGates",
                actions=["states:SendTaskSuccess", "states:SendTaskFailure"],
                resources=[self._state_machines_arn("stateMachine")],
            )
        )
        acknowledge(
            function.role,
            f"AwsSolutions-IAM5[Resource::{self._nag_arn('stateMachine')}]",
            "Task results only for the program's wave state machines (<program>-*), created by the wave "
            "stacks after this one.",
        )
        # A vote on a gate whose execution was stopped or has ended is refused (execution_ended).
        function.role.add_to_policy(
            iam.PolicyStatement(
                sid="DescribeWaveExecutionsBeforeCountingAVote",
                actions=["states:DescribeExecution"],
                resources=[self._state_machines_arn("execution") + ":*"],
            )
        )
        acknowledge(
            function.role,
            f"AwsSolutions-IAM5[Resource::{self._nag_arn('execution')}:*]",
            "DescribeExecution only, on the executions of the program's wave state machines (<program>-*), "
            "to refuse votes on an execution that has ended.",
        )
        roles = self._approver_roles()
        if roles:
            function.role.add_to_policy(
                iam.PolicyStatement(
                    sid="ReadApproverRoleTrustPolicies", actions=["iam:GetRole"], resources=roles
                )
            )
        return function

    def _approver_role(self) -> iam.Role:
        """`WavectlApprover`: what an approver assumes for `wavectl approve|reject` on AWS.

        Its trust policy pins the session name to the caller's IAM user name (`${aws:username}`), so
        `assumed-role/WavectlApprover/bob` is bob: nobody who may assume the role can call himself bob
        with `--role-session-name bob`. The callback refuses a CLI vote through any role whose trust
        policy does not pin it (tasks/approvals/approver_role.py). It may only call the CLI route."""
        role = iam.Role(
            self,
            "ApproverRole",
            role_name=contracts.APPROVER_ROLE_NAME,
            description="wavectl approvers: wavectl approve|reject (session name = the IAM user name)",
            assumed_by=iam.AccountPrincipal(self.account).with_conditions(
                {"StringEquals": {"sts:RoleSessionName": "${aws:username}"}}
            ),
            max_session_duration=Duration.hours(1),
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="DecideThroughTheCliRouteOnly",
                actions=["execute-api:Invoke"],
                resources=[self.approvals_api.arn_for_execute_api("POST", "/cli/approvals/*/*", "v1")],
            )
        )
        api_id = self.get_logical_id(self.approvals_api.node.default_child)
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:execute-api:{self.region}:{self.account}:"
            f"<{api_id}>/v1/POST/cli/approvals/*/*]",
            "Invoke only the CLI decision route; the approval id and action are path parameters.",
        )
        for pack in (PCI, NIST):
            acknowledge(
                role,
                f"{pack}-IAMNoInlinePolicy",
                "The approver role's one statement (invoke the CLI decision route) is created and deleted "
                "with the role; a managed policy would be attached to nothing else.",
            )
        return role

    def _approver_roles(self) -> list[str]:
        """IAM role ARNs behind the runbook approvers' assumed-role identities (the callback reads
        their trust policies)."""
        names = set()
        for members in self.runbook.program.approvers.values():
            for member in members:
                for arn in member.iam:
                    if ":assumed-role/" in arn:
                        account = arn.split(":")[4]
                        names.add(f"arn:{self.partition}:iam::{account}:role/{arn.split('/')[1]}")
        return sorted(names)

    def _approval_reminders(self) -> TaskFunction:
        function = self._approvals_function(
            contracts.APPROVAL_REMINDERS_TASK,
            "tasks.approvals.reminders.handler",
            "approval gates: remind after remind_after, escalate after escalate_after",
            timeout=60,
            table_actions=(GET_ITEM, UPDATE_ITEM, QUERY),  # pending gates, marks, posts of unposted ones
        )
        events.Rule(
            self,
            "ApprovalReminderSchedule",
            description="wavectl approval reminders and escalations",
            schedule=events.Schedule.rate(Duration.minutes(5)),
            targets=[targets.LambdaFunction(function.function, retry_attempts=0)],
        )
        self._grant_requester_lookup(function)
        return function

    def _nag_arn(self, resource: str) -> str:
        """The ARN pattern as cdk-nag prints it in a finding id."""
        program = self.runbook.program
        return (
            f"arn:<AWS::Partition>:states:{program.home_region}:{program.accounts.tooling}:"
            f"{resource}:{program.program}-*"
        )

    def _grant_evidence_put(self, function: TaskFunction) -> None:
        bucket_id = self.get_logical_id(self.evidence_bucket.node.default_child)
        grant_evidence_write(
            function.role,
            sid="WriteApprovalEvidence",
            objects_arn=self.evidence_bucket.arn_for_objects("approvals/*"),
            nag_resource=f"<{bucket_id}.Arn>/approvals/*",
            key=self.key,
            what="under approvals/ of the evidence bucket (one object per decision)",
        )

    def _acknowledge_data_grants(self, function: TaskFunction) -> None:
        table_id = self.get_logical_id(self.approvals_table.node.default_child)
        acknowledge(
            function.role,
            f"AwsSolutions-IAM5[Resource::<{table_id}.Arn>/index/*]",
            "CDK's table grant covers this table's own indexes (the by-status index of pending approvals).",
        )
        acknowledge(
            function.role,
            "AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
            "CDK's grant for the program key (SSE-KMS on the table, bucket and secrets): one key, named.",
        )
        acknowledge(
            function.role,
            "AwsSolutions-IAM5[Action::kms:ReEncrypt*]",
            "CDK's grant for the program key (SSE-KMS on the table, bucket and secrets): one key, named.",
        )

    def _approvals_api(self) -> apigw.RestApi:
        access_logs = logs.LogGroup(
            self,
            "ApprovalsApiAccessLogs",
            retention=logs.RetentionDays.ONE_YEAR,
            encryption_key=self.key,
            removal_policy=RemovalPolicy.RETAIN,
        )
        api = apigw.RestApi(
            self,
            "ApprovalsApi",
            rest_api_name=f"{self.runbook.program.program}-approvals",
            description="wavectl approvals: Slack interactivity (signed by Slack) and the CLI fallback (IAM)",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=RemovalPolicy.RETAIN,
            deploy_options=apigw.StageOptions(
                stage_name="v1",
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=True,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=True,
                ),  # fmt: skip
                logging_level=apigw.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,  # request bodies carry Slack payloads: never logged
                throttling_rate_limit=20,
                throttling_burst_limit=40,
            ),
        )
        self._web_acl(api)
        integration = apigw.LambdaIntegration(self.approval_callback.function)
        slack = api.root.add_resource("slack").add_resource("interactions")
        slack.add_method("POST", integration, authorization_type=apigw.AuthorizationType.NONE)
        cli = api.root.add_resource("cli").add_resource("approvals").add_resource("{approval_id}")
        cli = cli.add_resource("{action}")
        cli.add_method("POST", integration, authorization_type=apigw.AuthorizationType.IAM)
        self._acknowledge_api(api, slack, cli)
        CfnOutput(
            self, contracts.APPROVALS_API_OUTPUT, value=api.url, description="base URL of the approvals API"
        )
        CfnOutput(
            self,
            "SlackInteractivityUrl",
            value=api.url_for_path("/slack/interactions"),
            description="paste into the Slack app: Interactivity & Shortcuts > Request URL",
        )
        return api

    def _web_acl(self, api: apigw.RestApi) -> wafv2.CfnWebACL:
        """AWS WAF in front of the stage: a per-IP rate limit, so a flood is refused before the function.

        No managed body rules: Slack's form-encoded interaction payloads exceed their 8 KB body limits.
        """
        name = f"{self.runbook.program.program}-approvals"
        acl = wafv2.CfnWebACL(
            self,
            "ApprovalsWaf",
            name=name,
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=_waf_visibility(name),
            rules=[
                wafv2.CfnWebACL.RuleProperty(
                    name="rate-limit-per-ip",
                    priority=0,
                    action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                            limit=300, aggregate_key_type="IP"
                        )
                    ),
                    visibility_config=_waf_visibility(f"{name}-rate"),
                )
            ],
        )
        wafv2.CfnWebACLAssociation(
            self,
            "ApprovalsWafAssociation",
            resource_arn=api.deployment_stage.stage_arn,
            web_acl_arn=acl.attr_arn,
        )
        waf_logs = logs.LogGroup(
            self,
            "ApprovalsWafLogs",
            log_group_name=f"aws-waf-logs-{name}",  # the prefix WAF requires of a log destination
            retention=logs.RetentionDays.ONE_YEAR,
            encryption_key=self.key,
            removal_policy=RemovalPolicy.RETAIN,
        )
        wafv2.CfnLoggingConfiguration(
            self,
            "ApprovalsWafLogging",
            resource_arn=acl.attr_arn,
            log_destination_configs=[waf_logs.log_group_arn],
            # Slack requests carry their signature in a header: never in the WAF log
            redacted_fields=[
                wafv2.CfnLoggingConfiguration.FieldToMatchProperty(
                    single_header={"Name": "x-slack-signature"}
                )
            ],
        )
        return acl

    def _acknowledge_api(self, api: apigw.RestApi, slack: apigw.Resource, cli: apigw.Resource) -> None:
        acknowledge(
            cli,
            "AwsSolutions-COG4",
            "The CLI fallback is authorised by IAM (SigV4): the caller's verified ARN is the approver "
            "identity.",
        )
        for rule in ("AwsSolutions-APIG4", "AwsSolutions-COG4"):
            acknowledge(
                slack,
                rule,
                "Slack cannot sign with IAM or Cognito; the callback verifies Slack's HMAC signature "
                "(signing secret, 5-minute window, replays refused) before reading the request.",
            )
        acknowledge(
            api,
            "AwsSolutions-APIG2",
            "The only body parser is the callback, which verifies the signature first and validates the "
            "payload itself; a request model cannot express Slack's form-encoded payload.",
        )
        for pack in (PCI, NIST):
            acknowledge(
                api,
                f"{pack}-APIGWSSLEnabled",
                "The rule asks for a client certificate API Gateway presents to an HTTP backend; the only "
                "backend is a Lambda proxy integration, which AWS invokes with IAM, not over HTTP.",
            )
            acknowledge(
                api,
                f"{pack}-APIGWCacheEnabledAndEncrypted",
                "Every request is a unique signed decision; caching responses would replay them. No cache, "
                "so nothing cached to encrypt.",
            )
        acknowledge(
            api,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AmazonAPIGatewayPushToCloudWatchLogs]",
            "The account-level API Gateway logging role requires this AWS managed policy.",
        )
