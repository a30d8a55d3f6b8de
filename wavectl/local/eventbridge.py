"""EventBridge delivery in the embedded AWS: S3 and Transfer Family events reach Lambda targets.

moto 5.2.5 matches rule patterns but stops short of what the payment bridge needs:

- S3 "Object Created" notifications are sent synchronously, inside the PutObject request (so under
  the backend lock), to every rule of every event bus, with a numeric `time` and no Lambda target;
- a rule's state is ignored (a DISABLED rule still delivers), and a scheduled rule (no pattern)
  matches every event;
- Lambda targets are not supported at all.

`LocalEventBus` fixes that, generically: S3 events go to the **default** bus of the bucket's
account and region, shaped as AWS documents them (ISO `time`, `etag`, `reason: PutObject`,
`requester`); only ENABLED rules with a matching pattern deliver; Lambda targets (plain event,
`Input` or `InputPath`) are invoked **asynchronously** on worker threads, outside the backend lock,
through the ordinary Lambda `Invoke` (so the in-process routing of `functions.InProcessLambda` runs
the handler), with Lambda's asynchronous-invocation retries (two more attempts after a function
error). Other target types keep moto's own behaviour. `wait_idle()` lets a caller (a test, the
runner) wait until every delivery in flight has finished.
"""

from __future__ import annotations

import copy
import json
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wavectl.local.engine import LocalCloud

ASYNC_RETRY_ATTEMPTS = 2  # Lambda retries a failed asynchronous invocation twice
ASYNC_RETRY_DELAYS = (60.0, 120.0)  # seconds before each retry (simulated; compressed by the speed)
_REASONS = {
    "Put": "PutObject",
    "Post": "POST Object",
    "Copy": "CopyObject",
    "CompleteMultipartUpload": "CompleteMultipartUpload",
}
_ENABLED_STATES = ("ENABLED", "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS")


@dataclass(frozen=True)
class Delivery:
    """One event delivered by one rule to one Lambda target (kept for tests and the demo)."""

    rule: str
    function_arn: str
    event: dict[str, Any]
    attempts: int
    error: str | None


def iso_time(value: Any = None) -> str:
    """EventBridge's `time`: ISO 8601 UTC without fractions (moto passes epoch seconds)."""
    if isinstance(value, str) and value:
        return value
    moment = datetime.fromtimestamp(value, UTC) if isinstance(value, int | float) else datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def s3_object_event(account_id: str, bucket: Any, event_name: str, key: Any) -> dict[str, Any]:
    """The "Object Created" (or other S3) event as S3 puts it on the default bus."""
    from moto.s3.notifications import _detail_type

    action = event_name.split(":")[-1]
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": _detail_type(event_name),
        "source": "aws.s3",
        "account": account_id,
        "time": iso_time(),
        "region": bucket.region_name,
        "resources": [bucket.arn],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket.name},
            "object": {
                "key": key.name,
                "size": key.size,
                "etag": key.etag.replace('"', ""),
                **({"version-id": key.version_id} if key.version_id not in (None, "null") else {}),
                "sequencer": f"{time.time_ns():016X}",
            },
            "request-id": uuid.uuid4().hex[:16].upper(),
            "requester": account_id,
            "source-ip-address": "127.0.0.1",
            "reason": _REASONS.get(action, action),
        },
    }


def _target_payload(target: dict[str, Any], event: dict[str, Any]) -> Any:
    """What a Lambda target receives: the event, or the target's `Input` / `InputPath`."""
    if "Input" in target:
        return json.loads(target["Input"])
    path = target.get("InputPath")
    if path:
        value: Any = event
        for part in path.lstrip("$").strip(".").split("."):
            if part:
                value = value[part]
        return value
    return event


class LocalEventBus:
    """Asynchronous delivery of matched events to Lambda targets (see the module docstring)."""

    def __init__(self, cloud: LocalCloud, workers: int = 4) -> None:
        self.cloud = cloud
        self.deliveries: list[Delivery] = []
        self.background_errors: list[str] = []
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="eventbridge")
        self._pending = 0
        self._idle = threading.Condition()
        self._closed = False

    # ------------------------------------------------------------------ publishing

    def publish(self, account_id: str, region: str, event: dict[str, Any], bus: str = "default") -> None:
        """Put `event` (already AWS-shaped) on a bus, as an AWS service does."""
        from wavectl.local.patches import backend_lock

        with backend_lock():
            from moto.events.models import events_backends

            event_bus = events_backends[account_id][region].event_buses.get(bus)
            rules = list(event_bus.rules.values()) if event_bus else []
            for rule in rules:
                rule.send_to_targets(copy.deepcopy(event), transform_input=False)

    def fire_schedule(self, account_id: str, region: str, rule_name: str, bus: str = "default") -> bool:
        """Fire a schedule rule once, as EventBridge does on its schedule: False if absent or disabled."""
        from moto.events.models import events_backends

        from wavectl.local.patches import backend_lock

        with backend_lock():
            event_bus = events_backends[account_id][region].event_buses.get(bus)
            rule = event_bus.rules.get(rule_name) if event_bus else None
            if rule is None or rule.state not in _ENABLED_STATES or not rule.scheduled_expression:
                return False
            targets = [t for t in rule.targets if t["Arn"].split(":")[2] == "lambda"]
            arn = rule.arn
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": account_id,
            "time": iso_time(),
            "region": region,
            "resources": [arn],
            "detail": {},
        }
        for target in targets:
            self._submit(rule_name, target["Arn"], _target_payload(target, event))
        return True

    # ------------------------------------------------------------------ patches

    def patches(self) -> list[tuple[Any, str, Any]]:
        import moto.s3.notifications as s3_notifications
        from moto.events.models import Rule

        return [
            (s3_notifications, "_send_event_bridge_message", self._s3_to_default_bus),
            (Rule, "send_to_targets", self._send_to_targets(Rule.send_to_targets)),
        ]

    def _s3_to_default_bus(self, account_id: str, bucket: Any, event_name: str, key: Any) -> None:
        event = s3_object_event(account_id, bucket, event_name, key)
        # Already under the backend lock (inside the S3 request): match now, deliver later.
        from moto.events.models import events_backends

        event_bus = events_backends[account_id][bucket.region_name].event_buses.get("default")
        for rule in list(event_bus.rules.values()) if event_bus else []:
            rule.send_to_targets(copy.deepcopy(event), transform_input=False)

    def _send_to_targets(self, original: Callable[..., None]) -> Callable[..., None]:
        bus = self

        def send_to_targets(rule: Any, event: dict[str, Any], transform_input: bool = True) -> None:
            if rule.state not in _ENABLED_STATES:
                return  # a disabled rule delivers nothing (the payment bridge's on/off switch)
            if rule.scheduled_expression and not rule.event_pattern.get_pattern():
                return  # a schedule rule matches no event
            if not rule.event_pattern.matches_event(event):
                return
            event = {**event, "time": iso_time(event.get("time"))}
            lambdas = [t for t in rule.targets if t["Arn"].split(":")[2] == "lambda"]
            others = [t for t in rule.targets if t not in lambdas]
            if others:
                saved = rule.targets
                rule.targets = others
                try:
                    original(rule, event, transform_input)
                finally:
                    rule.targets = saved
            for target in lambdas:
                bus._submit(rule.name, target["Arn"], _target_payload(target, event))

        return send_to_targets

    # ------------------------------------------------------------------ delivery

    def _submit(self, rule: str, function_arn: str, payload: Any) -> None:
        with self._idle:
            if self._closed:
                return
            self._pending += 1
        self._executor.submit(self._deliver, rule, function_arn, payload)

    def run_async(self, work: Callable[..., Any], *args: Any) -> None:
        """Run `work(*args)` on a worker thread, counted as in flight by `wait_idle` (AWS's async work)."""
        with self._idle:
            if self._closed:
                return
            self._pending += 1
        self._executor.submit(self._run_counted, work, *args)

    def _run_counted(self, work: Callable[..., Any], *args: Any) -> None:
        try:
            work(*args)
        except Exception as exc:  # an AWS service's background work fails without failing the caller
            self.background_errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            with self._idle:
                self._pending -= 1
                self._idle.notify_all()

    def _deliver(self, rule: str, function_arn: str, payload: Any) -> None:
        error: str | None = None
        attempts = 0
        try:
            for attempts in range(1, ASYNC_RETRY_ATTEMPTS + 2):
                error = self._invoke(function_arn, payload)
                if error is None or self._closed or attempts > ASYNC_RETRY_ATTEMPTS:
                    break
                self.cloud.clock.sleep(self.cloud.speed, ASYNC_RETRY_DELAYS[attempts - 1], time.sleep)
            self.deliveries.append(Delivery(rule, function_arn, payload, attempts, error))
        finally:
            with self._idle:
                self._pending -= 1
                self._idle.notify_all()

    def _invoke(self, function_arn: str, payload: Any) -> str | None:
        parts = function_arn.split(":")
        account, region = parts[4], parts[3]
        client = self.cloud.account_session(account).client("lambda", region_name=region)
        try:
            response = client.invoke(FunctionName=function_arn, Payload=json.dumps(payload).encode())
        except Exception as exc:  # the function is gone, the cloud is stopping: the event is dropped
            return f"{type(exc).__name__}: {exc}"
        body = response["Payload"].read()
        if response.get("FunctionError"):
            result = json.loads(body) if body else {}
            return f"{result.get('errorType', 'Unknown')}: {result.get('errorMessage', '')}"
        return None

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until no delivery is in flight (True), or `timeout` seconds passed (False)."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True

    def drain(self, timeout: float = 30.0) -> None:
        """Accept no new deliveries and let those in flight finish (before the far side or moto stop)."""
        with self._idle:
            self._closed = True
        self.wait_idle(timeout)

    def close(self) -> None:
        self.drain()
        self._executor.shutdown(wait=False, cancel_futures=True)
