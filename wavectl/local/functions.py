"""In-process Lambda runtime: an invoke of a deployed function calls the Python function its `Handler` names.

Installed over `moto.awslambda_simple.models.LambdaSimpleBackend.invoke`. The handler runs inside
`tasks.contracts.function_environment(...)` with the function's own environment variables
(plus the variables the Lambda runtime sets), and with a Lambda-like context object. An exception
becomes a Lambda `FunctionError` whose `errorType` is `type(exc).__name__`, so a state's Retry and
Catch match on it exactly as on AWS.
"""

from __future__ import annotations

import importlib
import json
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tasks.contracts import function_environment
from wavectl.local import calls

FUNCTION_ERROR_HEADER = "x-amz-function-error"


@dataclass
class LambdaContext:
    """The attributes of the Lambda Python runtime's context object that handlers and Powertools use."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    timeout_seconds: int
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = "local"
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self.log_group_name = self.log_group_name or f"/aws/lambda/{self.function_name}"
        self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(int((self._deadline - time.monotonic()) * 1000), 0)


@dataclass(frozen=True)
class Invocation:
    """One call of a task function, kept so tests and the demo can see what ran."""

    function_name: str
    account: str
    event: Any
    error: str | None
    seconds: float


def resolve_handler(dotted: str) -> Callable[[Any, Any], Any]:
    """`tasks.frame.handler.guard` -> the function `guard` of module `tasks.frame.handler`."""
    module_name, _, attribute = dotted.rpartition(".")
    if not module_name:
        raise ImportError(f"handler {dotted!r} must be module.function")
    return getattr(importlib.import_module(module_name), attribute)


def lambda_environment(fn: Any, region: str) -> dict[str, str]:
    """The function's variables plus those the Lambda runtime sets (never credentials)."""
    return {
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{fn.function_name}",
        **{k: str(v) for k, v in (fn.environment_vars or {}).items()},
    }


def error_payload(exc: BaseException) -> bytes:
    return json.dumps(
        {
            "errorType": type(exc).__name__,
            "errorMessage": str(exc),
            "stackTrace": traceback.format_tb(exc.__traceback__)[-5:],
        }
    ).encode()


def _decode_event(body: Any) -> Any:
    if body in (None, b"", ""):
        return {}
    text = body.decode() if isinstance(body, bytes) else body
    return json.loads(text)


class InProcessLambda:
    """Routes moto Lambda invokes to the task handlers, recording every invocation."""

    def __init__(self) -> None:
        self.invocations: list[Invocation] = []
        self._lock = threading.Lock()
        # called with the function name after a handler returned, before its result does (fault injection)
        self.before_return: Callable[[str], None] | None = None

    def invoke(
        self,
        backend: Any,
        function_name: str,
        qualifier: str | None,
        body: Any,
        headers: Any,
        response_headers: dict[str, str],
    ) -> bytes:
        fn = backend.get_function(function_name, qualifier)
        event = _decode_event(body)
        if (headers or {}).get("X-Amz-Invocation-Type") == "Event":
            thread = threading.Thread(target=self._run, args=(backend, fn, event), daemon=True)
            thread.start()
            return b""
        result, error = self._run(backend, fn, event)
        if error is not None:
            response_headers[FUNCTION_ERROR_HEADER] = "Unhandled"
            return error_payload(error)
        return json.dumps(result, default=str).encode()

    def _run(self, backend: Any, fn: Any, event: Any) -> tuple[Any, BaseException | None]:
        started = time.monotonic()
        context = LambdaContext(
            function_name=fn.function_name,
            invoked_function_arn=fn.function_arn,
            memory_limit_in_mb=int(fn.memory_size),
            timeout_seconds=int(fn.timeout),
        )
        result, error = None, None
        try:
            handler = resolve_handler(fn.handler)
            with (
                function_environment(lambda_environment(fn, backend.region_name)),
                calls.running(fn.function_name),
            ):
                result = handler(event, context)
            if self.before_return is not None:
                self.before_return(fn.function_name)
        except Exception as exc:  # the Lambda runtime reports every exception as a function error
            error = exc
        self._record(fn, backend.account_id, event, error, time.monotonic() - started)
        return result, error

    def _record(self, fn: Any, account: str, event: Any, error: BaseException | None, seconds: float) -> None:
        name = f"{type(error).__name__}: {error}" if error is not None else None
        with self._lock:
            self.invocations.append(Invocation(fn.function_name, account, event, name, seconds))
