"""Operating the program from the control plane: the evidence archive (an EventBridge rule on every
execution end) and the CloudWatch dashboard (executions by state per wave, pending approvals, age)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from aws_cdk import ArnFormat, Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam

from stacks.constructs.nag import acknowledge
from stacks.constructs.task_function import TaskFunction
from tasks import contracts

if TYPE_CHECKING:
    from stacks.control_plane import ControlPlaneStack

EXECUTION_METRICS = (
    ("ExecutionsStarted", "started"),
    ("ExecutionsSucceeded", "succeeded"),
    ("ExecutionsFailed", "failed"),
    ("ExecutionsTimedOut", "timed out"),
    ("ExecutionsAborted", "aborted"),
)


def _program_arn(stack: ControlPlaneStack, resource: str, suffix: str = "") -> str:
    return stack.format_arn(
        service="states",
        resource=resource,
        resource_name=f"{stack.runbook.program.program}-*{suffix}",
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )


def add_evidence_archive(stack: ControlPlaneStack) -> TaskFunction:
    """The archive function and the rule that runs it when any wave execution ends."""
    runbook, key, bucket = stack.runbook, stack.key, stack.evidence_bucket
    function = TaskFunction(
        stack,
        "Task-evidence-archive",
        function_name=runbook.control_function_name(contracts.EVIDENCE_ARCHIVE_TASK),
        handler="tasks.evidence_archive.handler.handler",
        code=stack.code,
        description="evidence archive: history, definition, input, approvals, task evidence of a run",
        timeout=Duration.minutes(5),
        memory_mb=1024,
        environment={
            contracts.ENV_PROGRAM: runbook.program.program,
            contracts.ENV_APPROVALS_TABLE: stack.approvals_table.table_name,
            contracts.ENV_EVIDENCE_BUCKET: bucket.bucket_name,
            contracts.ENV_KMS_KEY: key.key_arn,
            contracts.ENV_EVIDENCE_RETENTION_DAYS: str(stack.evidence_retention_days),
            contracts.ENV_SLACK_BOT_TOKEN_SECRET: runbook.program.slack.bot_token,  # the end, in the thread
            contracts.ENV_SLACK_CHANNEL: runbook.program.slack.channel,
        },
        log_key=key,
    )
    role = function.role
    stack.grant_secret_value(stack.slack_bot_token, function)  # GetSecretValue only
    role.add_to_policy(
        iam.PolicyStatement(
            sid="ReadEndedExecutions",
            actions=["states:DescribeExecution", "states:GetExecutionHistory"],
            resources=[_program_arn(stack, "execution", ":*")],
        )
    )
    role.add_to_policy(
        iam.PolicyStatement(
            sid="ReadTheDefinitionThatRan",
            actions=["states:DescribeStateMachine"],
            resources=[_program_arn(stack, "stateMachine"), _program_arn(stack, "stateMachine", ":*")],
        )
    )
    role.add_to_policy(
        iam.PolicyStatement(
            sid="ReadApprovalRecords",
            actions=["dynamodb:Query", "dynamodb:GetItem"],
            resources=[stack.approvals_table.table_arn],
        )
    )
    role.add_to_policy(
        iam.PolicyStatement(
            sid="ReadTaskEvidence",
            actions=["s3:GetObject"],
            resources=[
                bucket.arn_for_objects("waves/*"),
                bucket.arn_for_objects("approvals/*"),
                bucket.arn_for_objects(f"{contracts.ARCHIVE_PREFIX}/*"),
            ],
        )  # fmt: skip
    )
    role.add_to_policy(iam.PolicyStatement(sid="ListTaskEvidence", actions=["s3:ListBucket"],
                                           resources=[bucket.bucket_arn]))  # fmt: skip
    role.add_to_policy(
        iam.PolicyStatement(
            sid="WriteTheBundleOnce",
            actions=["s3:PutObject", "s3:PutObjectRetention"],
            resources=[bucket.arn_for_objects(f"{contracts.ARCHIVE_PREFIX}/*")],
        )
    )
    role.add_to_policy(
        iam.PolicyStatement(
            sid="ProgramKey", actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[key.key_arn]
        )  # fmt: skip
    )
    events.Rule(
        stack,
        "ExecutionEndedArchiveRule",
        description="wavectl: archive the evidence of every wave execution that ends",
        event_pattern=events.EventPattern(
            source=["aws.states"],
            detail_type=[contracts.EXECUTION_STATUS_CHANGE],
            detail={
                "status": list(contracts.ENDED_STATUSES),
                "stateMachineArn": events.Match.prefix(_program_arn(stack, "stateMachine").removesuffix("*")),
            },
        ),
        targets=[
            targets.LambdaFunction(function.function, retry_attempts=20, max_event_age=Duration.hours(24))
        ],
    )
    _acknowledge_archive(stack, function)
    return function


def _acknowledge_archive(stack: ControlPlaneStack, function: TaskFunction) -> None:
    program = stack.runbook.program
    base = f"arn:<AWS::Partition>:states:{program.home_region}:{program.accounts.tooling}"
    bucket_id = stack.get_logical_id(stack.evidence_bucket.node.default_child)
    reasons = {
        f"{base}:execution:{program.program}-*:*": "read-only, the program's wave executions (names "
        "unknown at synth)",
        f"{base}:stateMachine:{program.program}-*": "read-only, the program's wave state machines",
        f"{base}:stateMachine:{program.program}-*:*": "read-only, their versions (the definition that ran)",
        f"<{bucket_id}.Arn>/waves/*": "read the task evidence records to copy them into the bundle",
        f"<{bucket_id}.Arn>/approvals/*": "read the approval decision records to copy them",
        f"<{bucket_id}.Arn>/{contracts.ARCHIVE_PREFIX}/*": "write-once bundles, one prefix per execution",
    }
    for resource, reason in reasons.items():
        acknowledge(function.role, f"AwsSolutions-IAM5[Resource::{resource}]", reason)


def add_approval_metrics(stack: ControlPlaneStack) -> TaskFunction:
    """Every 5 minutes: pending approvals and the oldest one's age per wave, as metrics (EMF)."""
    runbook = stack.runbook
    function = TaskFunction(
        stack,
        "Task-approval-metrics",
        function_name=runbook.control_function_name(contracts.APPROVAL_METRICS_TASK),
        handler="tasks.dashboard.handler.handler",
        code=stack.code,
        description="dashboard: pending approvals and their age per wave (embedded metric format)",
        timeout=Duration.seconds(60),
        environment={
            contracts.ENV_APPROVALS_TABLE: stack.approvals_table.table_name,
            contracts.ENV_DASHBOARD_WAVES: json.dumps([w.wave for w in runbook.ordered_waves()]),
        },
        log_key=stack.key,
    )
    function.role.add_to_policy(
        iam.PolicyStatement(
            sid="QueryPendingApprovals",
            actions=["dynamodb:Query"],
            resources=[f"{stack.approvals_table.table_arn}/index/{contracts.APPROVALS_STATUS_INDEX}"],
        )
    )
    function.role.add_to_policy(
        iam.PolicyStatement(sid="ProgramKey", actions=["kms:Decrypt"], resources=[stack.key.key_arn])
    )
    events.Rule(
        stack,
        "ApprovalMetricsSchedule",
        description="wavectl: pending approvals and their age, for the dashboard",
        schedule=events.Schedule.rate(Duration.minutes(5)),
        targets=[targets.LambdaFunction(function.function, retry_attempts=0)],
    )
    return function


def add_dashboard(stack: ControlPlaneStack) -> cloudwatch.Dashboard:
    """Executions by state per wave (AWS/States), pending approvals and approval age (Wavectl)."""
    runbook = stack.runbook
    waves = [w.wave for w in runbook.ordered_waves()]
    dashboard = cloudwatch.Dashboard(
        stack,
        "Dashboard",
        dashboard_name=f"{runbook.program.program}-waves",
        default_interval=Duration.days(7),
    )
    dashboard.add_widgets(
        cloudwatch.TextWidget(
            markdown=f"# {runbook.program.program}\nExecutions by state per wave; approvals waiting and the "
            "age of the oldest. `wavectl status` has the detail, `wavectl evidence` the archive.",
            width=24,
            height=2,
        )
    )
    for wave in waves:
        arn = stack.format_arn(
            service="states",
            resource="stateMachine",
            resource_name=runbook.state_machine_name(wave),
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        metrics = [
            cloudwatch.Metric(namespace="AWS/States", metric_name=name, label=label, statistic="Sum",
                              period=Duration.hours(1), dimensions_map={"StateMachineArn": arn})
            for name, label in EXECUTION_METRICS
        ]  # fmt: skip
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title=f"{wave}: executions by state", left=metrics, width=12, height=5, stacked=True
            )  # fmt: skip
        )
    pending = [_approval_metric("PendingApprovals", wave, "Maximum") for wave in waves]
    age = [_approval_metric("OldestPendingApprovalAgeSeconds", wave, "Maximum") for wave in waves]
    dashboard.add_widgets(
        cloudwatch.GraphWidget(title="pending approvals", left=pending, width=12, height=6),
        cloudwatch.GraphWidget(title="age of the oldest pending approval (s)", left=age, width=12, height=6),
    )
    return dashboard


def _approval_metric(name: str, wave: str, statistic: str) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace=contracts.METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map={"Wave": wave},
        statistic=statistic,
        label=wave,
        period=Duration.minutes(5),
    )
