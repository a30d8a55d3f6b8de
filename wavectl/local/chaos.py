"""Fault injection for rehearsals: `wavectl demo --chaos P [--seed S]`.

Two kinds of fault, both only inside task functions (the code that runs on Lambda):

- **AWS calls** (a botocore `before-send` hook, first in line before moto answers): a fraction P of
  the tasks' calls fail as AWS fails under load, each kind a third of the time:
  - *throttled*: the service answers 400 with its throttling error code, nothing done;
  - *5xx*: the service answers 503, nothing done;
  - *timeout*: the request **is processed** (moto applies it), then the response is lost and the
    client sees a read timeout: the harshest case for idempotency, as on AWS.
  The task's botocore retries (standard mode, `tasks.common.aws`) answer these as they would on AWS.
- **Killed invocations**: a fraction of task invocations is killed after the handler returned (its
  side effects done) and before the result reaches Step Functions, which sees
  `Lambda.ServiceException` and retries per the definition's Retry block.

A run with chaos must end in exactly the state of a run without it (tests/workflows/test_chaos.py).
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tasks.contracts import APPROVAL_CALLBACK_TASK, FUNCTION_ENVIRONMENT, cold_start_all

if TYPE_CHECKING:
    from wavectl.local.engine import LocalCloud

FAULT_KINDS = ("throttled", "5xx", "timeout")
RETRY_SLEEP_COMPRESSION = 100.0  # SDK back-offs of up to 20 s become 0.2 s of real time
KILLED = "killed"
# Calls whose loss after processing has no retry-safe meaning on AWS either: a lost SendTaskSuccess
# response is retried by the SDK into TaskTimedOut/InvalidToken, which the approvals code treats as a
# late answer. They still get throttling and 5xx, which AWS rejects before doing anything.
NO_PROCESSED_TIMEOUT = {"SendTaskSuccess", "SendTaskFailure", "SendTaskHeartbeat"}

_ERROR_BODIES = {
    "json": ('{{"__type":"{code}","message":"Rate exceeded (wavectl chaos)"}}', "application/x-amz-json-1.0"),
    "rest-json": ('{{"__type":"{code}","message":"Rate exceeded (wavectl chaos)"}}', "application/json"),
    "query": (
        "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>Rate exceeded (wavectl chaos)"
        "</Message></Error><RequestId>chaos</RequestId></ErrorResponse>",
        "text/xml",
    ),
    "ec2": (
        "<Response><Errors><Error><Code>{code}</Code><Message>Rate exceeded (wavectl chaos)</Message></Error>"
        "</Errors><RequestID>chaos</RequestID></Response>",
        "text/xml",
    ),
    "rest-xml": (
        "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>Rate exceeded (wavectl chaos)"
        "</Message></Error><RequestId>chaos</RequestId></ErrorResponse>",
        "application/xml",
    ),
}
# S3 throttles with 503 SlowDown; every other service here says Throttling(Exception) with 400.
_THROTTLE = {"s3": (503, "SlowDown")}


class KilledInvocation(Exception):
    """What Step Functions sees when the Lambda service loses an invocation's result."""


KilledInvocation.__name__ = "Lambda.ServiceException"


@dataclass
class Chaos:
    """Faults injected into a fraction `rate` of the tasks' AWS calls; `kill_rate` of invocations killed."""

    rate: float
    seed: int = 0
    kill_rate: float | None = None
    injected: Counter[str] = field(default_factory=Counter)
    calls: int = 0
    _rng: random.Random = field(init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        if not 0 <= self.rate < 1:
            raise ValueError(f"chaos rate must be at least 0 and below 1 (got {self.rate})")
        self._rng = random.Random(self.seed)
        if self.kill_rate is None:
            self.kill_rate = self.rate / 4  # Retry blocks allow 3 retries: 0.05^4 per step at P = 0.2

    def _draw(self) -> float:
        with self._lock:
            return self._rng.random()

    def _count(self, kind: str) -> None:
        with self._lock:
            self.injected[kind] += 1

    # ------------------------------------------------------------------------- AWS calls

    def fault_for(self, operation: str) -> str | None:
        """The fault to inject into this call, or None to let it through."""
        with self._lock:
            self.calls += 1
        if self._draw() >= self.rate:
            return None
        kinds = [k for k in FAULT_KINDS if not (k == "timeout" and operation in NO_PROCESSED_TIMEOUT)]
        return kinds[int(self._draw() * len(kinds))]

    def should_kill(self) -> bool:
        return self._draw() < float(self.kill_rate or 0.0)

    def summary(self) -> dict[str, Any]:
        return {
            "rate": self.rate,
            "seed": self.seed,
            "kill_rate": self.kill_rate,
            "task_aws_calls": self.calls,
            "injected": dict(sorted(self.injected.items())),
        }


_active: Chaos | None = None
_call = threading.local()  # the protocol and service of the call being sent on this thread


def _remember_call(model: Any = None, **_: Any) -> None:
    if model is not None:
        _call.protocol = model.service_model.resolved_protocol
        _call.service = model.service_model.endpoint_prefix
        _call.operation = model.name


def _before_send(request: Any, event_name: str = "", **kwargs: Any) -> Any:
    chaos = _active
    if chaos is None or FUNCTION_ENVIRONMENT.get() is None:
        return None  # not rehearsing with chaos, or not a task function's call
    operation = getattr(_call, "operation", event_name.rsplit(".", 1)[-1])
    fault = chaos.fault_for(operation)
    if fault is None:
        return None
    chaos._count(fault)
    if fault == "timeout":
        _process_then_lose(request, event_name, **kwargs)
    return _error_response(request, fault)


def _process_then_lose(request: Any, event_name: str, **kwargs: Any) -> None:
    from botocore.exceptions import ReadTimeoutError
    from moto.core.models import botocore_stubber

    botocore_stubber(event_name=event_name, request=request, **kwargs)  # the side effect happens
    raise ReadTimeoutError(endpoint_url=request.url)


def _error_response(request: Any, fault: str) -> Any:
    from botocore.awsrequest import AWSResponse
    from moto.core.botocore_stubber import MockRawResponse

    protocol = getattr(_call, "protocol", "json")
    status, code = _THROTTLE.get(getattr(_call, "service", ""), (400, "Throttling"))
    if fault == "5xx":
        status, code = 503, "ServiceUnavailable"
    elif protocol in ("json", "rest-json"):
        code = "ThrottlingException"
    template, content_type = _ERROR_BODIES.get(protocol, _ERROR_BODIES["json"])
    headers = {"Content-Type": content_type, "x-amzn-RequestId": "chaos", "x-amzn-ErrorType": code}
    return AWSResponse(request.url, status, headers, MockRawResponse(template.format(code=code).encode()))


def _install_hooks_once() -> None:
    """Put the hooks first in every botocore session made from now on (before moto's stubber)."""
    from botocore import handlers

    if any(spec[1] is _before_send for spec in handlers.BUILTIN_HANDLERS):
        return
    handlers.BUILTIN_HANDLERS.append(("before-call", _remember_call))
    handlers.BUILTIN_HANDLERS.append(("before-send", _before_send, handlers.REGISTER_FIRST))


class _ScaledSleep:
    """botocore's retry back-off sleeps, compressed like every other wait of the rehearsal."""

    def __init__(self, real: Any, factor: float) -> None:
        self._real, self._factor = real, factor

    def sleep(self, seconds: float) -> None:
        self._real.sleep(seconds / self._factor)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


@contextmanager
def injected(cloud: LocalCloud, chaos: Chaos) -> Iterator[Chaos]:
    """Inject `chaos` into the tasks of `cloud` for the duration of the block."""
    import time
    from unittest import mock

    global _active
    _install_hooks_once()
    cold_start_all()  # sessions the functions kept while warm were made before the hooks were in
    _active = chaos
    cloud.lambdas.before_return = _killer(chaos)
    try:
        with mock.patch("botocore.endpoint.time", _ScaledSleep(time, RETRY_SLEEP_COMPRESSION)):
            yield chaos
    finally:
        _active = None
        cloud.lambdas.before_return = None


def _killer(chaos: Chaos) -> Any:
    def before_return(function_name: str) -> None:
        if function_name.endswith(APPROVAL_CALLBACK_TASK):
            return  # answers Slack, not Step Functions: no Retry block stands behind it
        if chaos.should_kill():
            chaos._count(KILLED)
            raise KilledInvocation(
                f"{function_name}: invocation killed after its side effects (wavectl chaos)"
            )

    return before_return
