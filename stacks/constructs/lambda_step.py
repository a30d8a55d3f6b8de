"""The one way a workflow calls a task Lambda: `lambda:invoke` (or `.waitForTaskToken`) with retries.

Transient Lambda service faults are retried (2 s, x2, 3 attempts); named `Wavectl.*` errors never are.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

TRANSIENT_ERRORS = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
]


def lambda_step(
    scope: Construct,
    state_id: str,
    function: lambda_.IFunction,
    payload: dict,
    *,
    result_path: str | None = None,
    comment: str | None = None,
    wait_for_token: Duration | None = None,
) -> tasks.LambdaInvoke:
    """A task state invoking `function` with `payload`.

    Without `wait_for_token` the state's result is the handler's return value (not the Lambda
    envelope). With it, the state waits for a task token callback, at most that long (States.Timeout).
    """
    if wait_for_token is None:
        options: dict = {"payload_response_only": True}
    else:
        options = {
            "integration_pattern": sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
            "task_timeout": sfn.Timeout.duration(wait_for_token),
        }
    step = tasks.LambdaInvoke(
        scope,
        state_id,
        lambda_function=function,
        payload=sfn.TaskInput.from_object(payload),
        retry_on_service_exceptions=False,
        result_path=result_path,
        comment=comment,
        **options,
    )
    step.add_retry(errors=TRANSIENT_ERRORS, interval=Duration.seconds(2), max_attempts=3, backoff_rate=2)
    return step
