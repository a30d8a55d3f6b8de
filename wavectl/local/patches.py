"""The few places the embedded AWS is patched, and why.

- Lambda invokes run the task handlers in-process (`functions.InProcessLambda`).
- Wait states and retry back-offs are compressed by the engine's speed (and counted as simulated time).
- Callback (waitForTaskToken) timeouts and heartbeats are compressed too; a state's default
  timeout is left alone, or an in-process call could time out. A callback that times out counts
  its whole (uncompressed) timeout as simulated time.
- `ListExecutions` accepts an alias or version ARN (the executions started through it, as on AWS), and
  `ListStateMachineVersions` is answered (moto lacks it).
- An operation moto does not implement (or fails on) answers a JSON error naming the operation, so a
  client sees `UnsupportedOperation: ... stepfunctions.list_map_runs ...` instead of a bare 500 and the
  server prints no traceback.
- `StartExecution` without a name gets a UUID, as on AWS (moto named every such execution "None").
- `StartExecution` accepts a state machine alias or version ARN (moto only knows the unqualified
  ARN): the alias is resolved to its version, the execution runs that version's definition, and
  `DescribeExecution` reports `stateMachineVersionArn` / `stateMachineAliasArn` as AWS does.
- S3 bucket policies: moto evaluates them without request context, so a statement with a
  Condition (CDK's `enforce_ssl` Deny on `aws:SecureTransport=false`) would deny every call.
  Statements with conditions are skipped: every SDK call is TLS on AWS, which is what they guard.
- ASL validation is memoised per definition text: moto parses a definition on create and again on
  publish, and tests deploy the same definitions over and over (it is the slowest part of a deploy).
- moto's Step Functions interpreter builds a new boto3 client for every Lambda invoke, S3 read and
  service task (`boto_client_for`); the clients are cached per service and region (they are
  thread-safe once built), which took 5 % of a 50-database wave's CPU.
- Every botocore session shares one model loader: task code makes a new boto3 session per call
  (right on Lambda, where a warm container keeps its own), and reloading the service models
  each time made a wave several times slower locally.
- moto is not thread-safe, and a wave is many threads (one interpreter per execution, parallel Map
  iterations, the runner polling, Slack clicks): every request to a moto backend is serialised by
  one re-entrant lock. A Lambda `Invoke` is the exception: it holds no lock itself (the handler's
  own calls take it one at a time), so parallel iterations still overlap and a handler that waits
  on another thread cannot deadlock. Without it a read could iterate a DynamoDB item while another
  thread updated it ("dictionary changed size during iteration").
- Route 53 (`wavectl.local.route53`): a change id per change and a journal of every change, deletes of
  weighted record sets by name, type and identifier (moto deletes by identifier alone), and health
  checks that can be made to fail.
- EventBridge delivers S3 and Transfer Family events to Lambda targets, asynchronously, only through
  enabled rules (`eventbridge.LocalEventBus`).
- Transfer Family connectors really transfer: `StartFileTransfer` and `StartDirectoryListing` speak
  SFTP to the connector's URL with its trusted host keys and its secret (`transfer`).
- RDS operations take simulated time (`wavectl.local.rds_durations`): snapshots, copies, restores
  and deletes stay `creating`/`deleting` for a duration derived from the size, on the runner's clock.
- A parent workflow's `states:startExecution.sync:2` task gets the API's own parameter and
  response names (`wavectl.local.sfn_integration`), as on AWS.
- A Distributed Map whose child executions fail beyond its tolerated failures fails its Map Run with
  `States.ExceedToleratedFailureThreshold` (`wavectl.local.distributed_map`); moto let it succeed.
- moto's default account becomes the runbook's tooling account: the Step Functions interpreter
  calls Lambda with a fixed access key, which moto maps to its default account. `MOTO_ACCOUNT_ID`
  is not used because it would override the accounts of assumed-role credentials too.
"""

from __future__ import annotations

import json
import threading
import time as _time
import uuid
from contextlib import ExitStack
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any
from unittest import mock

from wavectl.local import distributed_map, rds_durations, sfn_integration

if TYPE_CHECKING:
    from wavectl.local.engine import LocalCloud

_backend_lock = threading.RLock()
_UNLOCKED_EVENT = "before-send.lambda.Invoke"
_UNLOCKED_PATH = "/invocations"


def backend_lock() -> Any:
    """The lock every moto backend request holds (for code that reads a backend directly)."""
    return _backend_lock


def install(cloud: LocalCloud) -> ExitStack:
    """Apply every patch for `cloud`; closing the returned stack undoes them."""
    from wavectl.local import calls, cloudtrail

    stack = ExitStack()
    for target, attribute, replacement in _patches(cloud):
        missing = not hasattr(target, attribute)  # an operation moto lacks is added, then removed
        stack.enter_context(mock.patch.object(target, attribute, replacement, create=missing))
    calls.reset()  # the AWS calls of each task function (least privilege): see wavectl/local/calls.py
    for target, attribute, replacement in calls.patches():
        stack.enter_context(mock.patch.object(target, attribute, replacement))
    cloudtrail.reset()  # CloudTrail LookupEvents (StartExecution callers): see wavectl/local/cloudtrail.py
    for target, attribute, replacement in cloudtrail.patches():
        stack.enter_context(mock.patch.object(target, attribute, replacement, create=True))
    for target, attribute, replacement in rds_durations.patches(cloud.rds_durations):
        stack.enter_context(mock.patch.object(target, attribute, replacement, create=True))
    return stack


def _patches(cloud: LocalCloud) -> list[tuple[Any, str, Any]]:
    import botocore.session
    import moto.iam.models as iam_models
    from moto.awslambda_simple.models import LambdaSimpleBackend
    from moto.core.botocore_stubber import BotocoreStubber
    from moto.core.responses import BaseResponse
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication
    from moto.s3.models import FakeBucket
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_callback as callback_module,
    )
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction
    from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackEndpoint
    from moto.stepfunctions.parser.asl.utils import boto_client as sfn_boto_client
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend
    from moto.stepfunctions.responses import StepFunctionResponse
    from moto.sts.models import STSBackend

    from wavectl.local.accounts import refuse_wrong_external_id
    from wavectl.local.transfer import transfer_patches

    callback_cls = callback_module.StateTaskServiceCallback
    wait_for_token = callback_cls._eval_wait_for_task_token
    heartbeat = CallbackEndpoint.setup_heartbeat_endpoint
    start = StepFunctionsParserBackend.start_execution
    describe = StepFunctionResponse.describe_execution
    validate = StepFunctionsParserBackend.__dict__["_validate_definition"].__func__
    return [
        *sfn_integration.patches(),
        *distributed_map.patches(),
        *_cached_interpreter_clients(sfn_boto_client),
        (BotocoreStubber, "__call__", serialised_stub(BotocoreStubber.__call__)),
        (DomainDispatcherApplication, "__call__", _serialised_server(DomainDispatcherApplication.__call__)),
        (iam_models, "DEFAULT_ACCOUNT_ID", cloud.runbook.program.accounts.tooling),
        (botocore.session, "create_loader", _shared_loader),
        (FakeBucket, "get_permission", _bucket_permission),
        (LambdaSimpleBackend, "invoke", _lambda_invoke(cloud)),
        (STSBackend, "assume_role", refuse_wrong_external_id(STSBackend.assume_role)),
        (WaitFunction, "_wait_interval", _wait_interval(cloud, WaitFunction._wait_interval)),
        (retrier_decl, "time", _compressed_time_module(cloud)),
        (callback_cls, "_eval_wait_for_task_token", _callback_wait(cloud, wait_for_token)),
        (CallbackEndpoint, "setup_heartbeat_endpoint", _heartbeat(cloud, heartbeat)),
        (StepFunctionsParserBackend, "start_execution", _start_qualified(start)),
        (StepFunctionResponse, "describe_execution", _describe_qualified(describe)),
        (StepFunctionResponse, "list_executions", _list_qualified(StepFunctionResponse.list_executions)),
        (StepFunctionResponse, "list_state_machine_versions", _list_state_machine_versions),
        (BaseResponse, "call_action", _operation_errors_as_json(BaseResponse.call_action)),
        (StepFunctionsParserBackend, "_validate_definition", staticmethod(_memoised_validation(validate))),
        *cloud.route53.patches(),
        *cloud.events.patches(),
        *transfer_patches(cloud),
    ]


def _cached_interpreter_clients(module: Any) -> list[tuple[Any, str, Any]]:
    """`boto_client_for` (moto's interpreter) returning one client per (region, service), reused.

    Patched where it is looked up: moto's modules import the function by name."""
    import importlib

    original = module.boto_client_for
    clients: dict[tuple[str, str], Any] = {}
    lock = threading.Lock()

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        with lock:
            if (region, service) not in clients:
                clients[(region, service)] = original(region=region, service=service)
            return clients[(region, service)]

    users = [importlib.import_module(f"moto.stepfunctions.parser.asl.component.state.exec.{name}")
             for name in _INTERPRETER_CLIENT_USERS]  # fmt: skip
    return [(m, "boto_client_for", boto_client_for) for m in users if m.boto_client_for is original]


_INTERPRETER_CLIENT_USERS = (  # where the db and dual-run waves' interpreter builds its clients
    "state_task.lambda_eval_utils",
    "state_task.service.state_task_service_sfn",
    "state_map.item_reader.eval.resource_eval_s3",
    "state_map.result_writer.resource_eval.resource_eval_s3",
)


def serialised_stub(original):
    """`BotocoreStubber.__call__` holding the one moto backend lock (a Lambda Invoke excepted)."""

    def call(self, event_name, request, **kwargs):
        if event_name.startswith(_UNLOCKED_EVENT):
            return original(self, event_name, request, **kwargs)
        with _backend_lock:
            return original(self, event_name, request, **kwargs)

    return call


def _serialised_server(original):
    def call(self, environ, start_response):
        if environ.get("PATH_INFO", "").rstrip("/").endswith(_UNLOCKED_PATH):
            return original(self, environ, start_response)
        with _backend_lock:
            return original(self, environ, start_response)

    return call


def _lambda_invoke(cloud: LocalCloud):
    def invoke(backend, function_name, qualifier, body, headers, response_headers):
        return cloud.lambdas.invoke(backend, function_name, qualifier, body, headers, response_headers)

    return invoke


def _wait_interval(cloud: LocalCloud, original):
    def wait_interval(self, env, wait_seconds):
        start = cloud.clock.simulated_elapsed()
        real = cloud.speed.wait_seconds(wait_seconds)
        if real > 0:
            env.program_state_event.wait(real)
        if env.is_running():
            cloud.clock.waited(start, wait_seconds)

    return wait_interval


def _compressed_time_module(cloud: LocalCloud) -> SimpleNamespace:
    """Stands in for the `time` module inside moto's retrier: its sleep is compressed."""

    def sleep(seconds: float) -> None:
        cloud.clock.sleep(cloud.speed, seconds, _time.sleep)

    return SimpleNamespace(sleep=sleep, time=_time.time, monotonic=_time.monotonic)


def _is_default_timeout(seconds: Any) -> bool:
    from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSeconds

    return seconds in (None, TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS)


def _callback_wait(cloud: LocalCloud, original):
    from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackOutcomeTimedOut

    def eval_wait_for_task_token(self, env, timeout_seconds, callback_endpoint, heartbeat_endpoint):
        if _is_default_timeout(timeout_seconds) or not isinstance(timeout_seconds, int | float):
            # moto's own form (a `.sync` child's timeout arrives as its settings): moto handles it
            return original(self, env, timeout_seconds, callback_endpoint, heartbeat_endpoint)
        started, simulated = cloud.clock.simulated_elapsed(), float(timeout_seconds)
        outcome = original(
            self, env, cloud.speed.callback_timeout(simulated), callback_endpoint, heartbeat_endpoint
        )
        if isinstance(outcome, CallbackOutcomeTimedOut):
            cloud.clock.waited(started, simulated)  # a callback that timed out lasted its whole timeout
        return outcome

    return eval_wait_for_task_token


def _heartbeat(cloud: LocalCloud, original):
    def setup_heartbeat_endpoint(self, heartbeat_seconds):
        return original(self, cloud.speed.callback_timeout(heartbeat_seconds))

    return setup_heartbeat_endpoint


_loaders: dict[Any, Any] = {}
_loaders_lock = threading.Lock()


def _shared_loader(search_paths_string: Any = None) -> Any:
    from botocore.loaders import create_loader

    with _loaders_lock:
        if search_paths_string not in _loaders:
            _loaders[search_paths_string] = create_loader(search_paths_string)
        return _loaders[search_paths_string]


_valid_definitions: set[str] = set()


def _memoised_validation(original):
    def validate_definition(definition: str) -> None:
        if definition not in _valid_definitions:
            original(definition=definition)
            _valid_definitions.add(definition)

    return validate_definition


def _bucket_permission(bucket: Any, action: str, resource: str) -> Any:
    """moto's bucket policy check, over the statements it can judge (those without a Condition)."""
    from moto.iam.access_control import IAMPolicy, PermissionResult

    if bucket.policy is None:
        return PermissionResult.NEUTRAL
    policy = json.loads(bucket.policy)
    statements = policy.get("Statement", [])
    statements = [
        s for s in ([statements] if isinstance(statements, dict) else statements) if "Condition" not in s
    ]
    if not statements:
        return PermissionResult.NEUTRAL
    return IAMPolicy(json.dumps({**policy, "Statement": statements})).is_action_permitted(action, resource)


# ----------------------------------------------------------------------------- alias / version ARNs


def _qualified_target(backend: Any, arn: str) -> tuple[Any, Any, str | None] | None:
    """(state machine, version, alias ARN) for an alias or version ARN; None for a plain ARN."""
    parts = arn.split(":")
    if len(parts) != 8:
        return None
    base_arn, qualifier = ":".join(parts[:7]), parts[7]
    machine = next((sm for sm in backend.state_machines if sm.arn == base_arn), None)
    if machine is None:
        return None
    if qualifier.isdigit():
        return machine, machine.versions.get(int(qualifier)), None
    alias = machine.aliases.get(qualifier)
    if alias is None:
        return None
    version_arn = alias.routing_configuration[0]["stateMachineVersionArn"]
    version = next((v for v in machine.versions.values() if v.arn == version_arn), None)
    return machine, version, arn


def _start_qualified(original):
    def start_execution(self, state_machine_arn, name=None, execution_input=None, trace_header=None):
        name = name or str(uuid.uuid4())  # AWS names an unnamed execution with a UUID; moto used "None"
        target = _qualified_target(self, state_machine_arn)
        if target is None or target[1] is None:
            return original(self, state_machine_arn, name, execution_input, trace_header)
        machine, version, alias_arn = target
        # Run the version's definition, even if the machine changed since. No other request sees the
        # swap: this runs inside a StartExecution request, under the backend lock.
        current = machine.definition
        machine.definition = version.definition
        try:
            execution = original(self, machine.arn, name, execution_input, trace_header)
        finally:
            machine.definition = current
        execution.wavectl_version_arn = version.arn
        execution.wavectl_alias_arn = alias_arn
        return execution

    return start_execution


def _describe_qualified(original):
    def describe_execution(self):
        result = original(self)
        execution = self.stepfunction_backend.describe_execution(self._get_param("executionArn"))
        response = result.result
        if isinstance(response, dict):
            for key, attribute in (
                ("stateMachineVersionArn", "wavectl_version_arn"),
                ("stateMachineAliasArn", "wavectl_alias_arn"),
            ):
                if getattr(execution, attribute, None):
                    response[key] = getattr(execution, attribute)
        return result

    return describe_execution


def _list_qualified(original):
    """ListExecutions on an alias or version ARN: the executions that started through it."""

    def list_executions(self):
        from moto.core.responses import ActionResult

        arn = self._get_param("stateMachineArn") or ""
        target = _qualified_target(self.stepfunction_backend, arn)
        if target is None:
            return original(self)
        machine, version, alias_arn = target
        attribute = "wavectl_alias_arn" if alias_arn else "wavectl_version_arn"
        wanted = alias_arn or (version.arn if version is not None else arn)
        status_filter = self._get_param("statusFilter")
        found = [
            e
            for e in machine.executions
            if getattr(e, attribute, None) == wanted and (not status_filter or e.status == status_filter)
        ]
        executions = []
        for execution in sorted(found, key=lambda e: e.start_date, reverse=True):
            entry = {
                "executionArn": execution.execution_arn,
                "name": execution.name,
                "startDate": execution.start_date,
                "stateMachineArn": machine.arn,
                "status": execution.status,
            }
            entry[("stateMachineAliasArn" if alias_arn else "stateMachineVersionArn")] = wanted
            if execution.stop_date:
                entry["stopDate"] = execution.stop_date
            executions.append(entry)
        return ActionResult({"executions": executions})

    return list_executions


def _list_state_machine_versions(self):
    """ListStateMachineVersions (missing in moto): newest version first, as on AWS."""
    from moto.core.responses import ActionResult

    machine = self.stepfunction_backend.describe_state_machine(self._get_param("stateMachineArn"))
    versions = sorted(getattr(machine, "versions", {}).values(), key=lambda v: v.version, reverse=True)
    return ActionResult(
        {
            "stateMachineVersions": [
                {"stateMachineVersionArn": v.arn, "creationDate": v.creation_date} for v in versions
            ]
        }
    )


def _operation_errors_as_json(original):
    """An operation moto lacks, or fails in, answers one JSON error naming it (no server traceback)."""

    from werkzeug.exceptions import HTTPException

    def call_action(self):
        try:
            return original(self)
        except HTTPException:  # moto's own AWS errors: its callers turn them into responses
            raise
        except Exception as exc:
            operation = f"{self.service_name}.{self._get_action()}"
            if isinstance(exc, NotImplementedError):
                status, kind = 501, "UnsupportedOperation"
                message = f"{operation} is not supported by the embedded AWS (moto) of wavectl local"
            else:
                status, kind = 500, "InternalFailure"
                message = f"{operation} failed in the embedded AWS (moto): {type(exc).__name__}: {exc}"
            body = json.dumps({"__type": kind, "message": message, "Message": message})
            return status, {"Content-Type": "application/x-amz-json-1.0", "x-amzn-ErrorType": kind}, body

    return call_action
