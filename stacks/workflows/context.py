"""What a wave-kind workflow builder is given to build its body."""

from __future__ import annotations

from dataclasses import dataclass, field

from aws_cdk import Aws, Duration, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from stacks.constructs.evidence_grant import grant_evidence_write
from stacks.constructs.lambda_step import lambda_step
from stacks.constructs.nag import acknowledge
from stacks.constructs.task_function import TaskFunction
from stacks.names import evidence_bucket_name
from tasks import contracts
from wavectl.runbook import Program, Runbook, Wave


@dataclass(frozen=True)
class ControlPlaneRefs:
    key: kms.IKey
    approvals_table: dynamodb.ITable
    evidence_bucket: s3.IBucket
    approval_request_function: lambda_.IFunction | None = None


@dataclass
class WaveContext:
    scope: Construct
    runbook: Runbook
    wave: Wave
    control: ControlPlaneRefs
    code: lambda_.Code
    functions: dict[str, TaskFunction] = field(default_factory=dict)
    # role ARN in another account -> names of this wave's task roles that may assume it (the trust
    # policies of the source, target and retention accounts' role stacks, stacks/cross_account.py)
    assumers: dict[str, set[str]] = field(default_factory=dict)

    @property
    def program(self) -> Program:
        return self.runbook.program

    def function_name(self, task: str) -> str:
        return f"{self.program.program}-{self.wave.wave}-{task}"[:64]

    def base_environment(self) -> dict[str, str]:
        accounts = self.program.accounts
        return {
            contracts.ENV_PROGRAM: self.program.program,
            contracts.ENV_WAVE: self.wave.wave,
            contracts.ENV_SOURCE_ROLE_ARN: accounts.source.role_arn(),
            contracts.ENV_TARGET_ROLE_ARN: accounts.target.role_arn(),
            contracts.ENV_WORKLOAD_EXTERNAL_ID: self.program.workload_external_id,
            contracts.ENV_EVIDENCE_BUCKET: self.control.evidence_bucket.bucket_name,
            contracts.ENV_KMS_KEY: self.control.key.key_arn,
        }

    def task_function(
        self,
        task: str,
        handler: str,
        *,
        description: str,
        timeout: Duration = Duration.minutes(1),
        memory_mb: int = 256,
        environment: dict[str, str] | None = None,
    ) -> TaskFunction:
        """A task Lambda of this wave running `handler` (e.g. `tasks.frame.handler.guard`)."""
        function = TaskFunction(
            self.scope,
            f"Task-{task}",
            function_name=self.function_name(task),
            handler=handler,
            code=self.code,
            description=description,
            timeout=timeout,
            memory_mb=memory_mb,
            environment={**self.base_environment(), **(environment or {})},
            log_key=self.control.key,
        )
        self.functions[task] = function
        return function

    def assume_workload_roles(self, function: TaskFunction) -> None:
        """Let a task assume the runbook's source and target roles (and nothing else)."""
        accounts = self.program.accounts
        self.assume_roles(function, [accounts.source.role_arn(), accounts.target.role_arn()])

    def assume_roles(self, function: TaskFunction, role_arns: list[str]) -> None:
        """Let a task assume these roles of other accounts; their trust policies will name its role."""
        function.role.add_to_policy(iam.PolicyStatement(actions=["sts:AssumeRole"], resources=role_arns))
        for arn in role_arns:
            self.assumers.setdefault(arn, set()).add(function.role_name)

    def invoke(
        self,
        state_id: str,
        function: TaskFunction,
        payload: dict,
        *,
        result_path: str | None = None,
        comment: str | None = None,
        wait_for_token: Duration | None = None,
    ) -> tasks.LambdaInvoke:
        """A `lambda:invoke` state returning the handler's result (not the Lambda envelope); with
        `wait_for_token`, a `.waitForTaskToken` callback that times out after that long."""
        step = lambda_step(
            self.scope,
            state_id,
            function.function,
            payload,
            result_path=result_path,
            comment=comment,
            wait_for_token=wait_for_token,
        )
        self._acknowledge_version_grant(function)
        return step

    def grant_evidence_write(self, function: TaskFunction) -> None:
        """PutObject under this wave's prefix of the evidence bucket, SSE-KMS with the program key."""
        objects = f"{evidence_bucket_name(self.runbook)}/waves/{self.wave.wave}/*"
        grant_evidence_write(
            function.role,
            sid="WriteWaveEvidence",
            objects_arn=f"arn:{Aws.PARTITION}:s3:::{objects}",
            nag_resource=f"arn:<AWS::Partition>:s3:::{objects}",
            key=self.control.key,
            what="under this wave's prefix of the evidence bucket (one record per execution)",
        )

    def _acknowledge_version_grant(self, function: TaskFunction) -> None:
        logical_id = Stack.of(self.scope).get_logical_id(function.function.node.default_child)
        acknowledge(
            self.scope,
            f"AwsSolutions-IAM5[Resource::<{logical_id}.Arn>:*]",
            "lambda:InvokeFunction on this one function's own versions and aliases (ARN:*), "
            "as the Step Functions lambda:invoke integration requires.",
        )
