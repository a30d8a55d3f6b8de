"""One construct for every task Lambda: Python on arm64, Powertools logging, own log group and role."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from stacks.constructs.compliance import acknowledge_task_function
from stacks.constructs.logged_role import logged_role

RUNTIME = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE = lambda_.Architecture.ARM_64


class TaskFunction(Construct):
    """A task Lambda running `handler` (a dotted path inside `tasks/`)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function_name: str,
        handler: str,
        code: lambda_.Code,
        description: str,
        timeout: Duration,
        memory_mb: int = 256,
        environment: dict[str, str] | None = None,
        log_key: kms.IKey | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.role_name = function_name  # fixed: trust and key policies name it before it exists
        self.log_group, self.role = logged_role(
            self,
            log_group_name=f"/aws/lambda/{function_name}",
            service="lambda.amazonaws.com",
            role_name=self.role_name,  # function names are unique in the program and at most 64 long
            role_description=f"wavectl task {function_name}",
            log_key=log_key,
        )
        self.log_group.grant_write(self.role)
        self.function = lambda_.Function(
            self,
            "Function",
            function_name=function_name,
            description=description,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=handler,
            code=code,
            timeout=timeout,
            memory_size=memory_mb,
            role=self.role,
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            environment={
                "POWERTOOLS_SERVICE_NAME": "wavectl",
                "POWERTOOLS_LOG_LEVEL": "INFO",
                **(environment or {}),
            },
        )
        acknowledge_task_function(self.function)
