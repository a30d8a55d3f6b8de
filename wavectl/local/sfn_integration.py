"""The Step Functions service integration (`arn:aws:states:::states:startExecution[.sync[:2]]`) in moto.

moto's interpreter has the code for a parent workflow to start a child execution and wait for it,
but it hands the state's `Parameters` to boto3 as written in the ASL (`StateMachineArn`, `Name`,
`Input`) where boto3 wants its own member names (`stateMachineArn`, ...), and it returns boto3's
response members (`executionArn`, `output`, ...) where AWS returns the service's (`ExecutionArn`,
`Output`, ...), which a `ResultSelector` such as `$.Output.database` reads. On AWS both sides use
the API's own casing. This patch converts both ways with the botocore model of the operation, so
the same ASL runs here and on AWS.
"""

from __future__ import annotations

from functools import cache
from typing import Any


@cache
def _operation(action: str) -> Any:
    import botocore.session

    model = botocore.session.get_session().get_service_model("stepfunctions")
    return model.operation_model("".join(part.capitalize() for part in action.split("_")))


def _to_boto(parameters: dict[str, Any], action: str) -> dict[str, Any]:
    members = {name.lower(): name for name in _operation(action).input_shape.members}
    return {members.get(key.lower(), key): value for key, value in parameters.items()}


def _to_service(response: Any) -> Any:
    """boto3 member names (`executionArn`) -> the service's (`ExecutionArn`), top level."""
    if not isinstance(response, dict):
        return response
    for key in list(response):
        if key[:1].islower():
            response[key[:1].upper() + key[1:]] = response.pop(key)
    return response


def patches() -> list[tuple[Any, str, Any]]:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn import (
        StateTaskServiceSfn,
    )

    return [
        (
            StateTaskServiceSfn,
            "_eval_service_task",
            _eval_service_task(StateTaskServiceSfn._eval_service_task),
        ),
        (StateTaskServiceSfn, "_normalise_response", _normalise_response),
    ]


def _eval_service_task(original):
    def eval_service_task(self, env, resource_runtime_part, normalised_parameters, state_credentials):
        action = self._get_boto_service_action()
        parameters = _to_boto(normalised_parameters, action)
        original(self, env, resource_runtime_part, parameters, state_credentials)

    return eval_service_task


def _normalise_response(self, response, boto_service_name=None, service_action_name=None) -> None:
    _to_service(response)
