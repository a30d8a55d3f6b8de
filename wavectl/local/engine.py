"""`LocalCloud`: the embedded AWS (moto, in-process) with the program deployed from `cdk.out`.

    with LocalCloud(runbook, Path("cdk.out"), speed="fast") as cloud:
        run = run_wave(cloud, "orders-db")          # wavectl.local.runner

What other code may rely on (the public interface):

- `cloud.runbook`     the loaded `Runbook`.
- `cloud.session`     boto3 session in the tooling account (fake credentials, served by moto).
- `cloud.region`      the program's home region.
- `cloud.accounts`    `ProgramAccounts` (tooling / source / target ids and role ARNs).
- `cloud.slack`       the `LocalSlack` (`.base_url` for `WebClient`, `.messages()`, `.events()`,
                      `.response_url(channel, ts)`, `.add_route(method, path, handler)`).
- `cloud.resources`   `Resources`: what was deployed, by stack + logical id (`get`), by type
                      (`of_type`, `names`, `find`), and `tables`, `buckets`, `functions`, `state_machines`.
- `cloud.invoke_function(name, event)`  call a deployed function in-process (raises `FunctionFailed`).
- `cloud.speed` / `cloud.clock`  the time compression (`Speed`) and simulated/real elapsed time (`SimClock`).
- `cloud.rds_durations`  simulated RDS durations (`RdsDurations`: `sizes`, `override(...)`).
- `cloud.lambdas.invocations`    every task invocation (function, account, event, error).
- `cloud.route53`     `Route53Journal`: every record change (history), `set_health(check, healthy)`.
- `cloud.account_session(account_id)`  an administrator's session in any account (seeding, tests).
- `cloud.source_session()` / `cloud.target_session()`  sessions through the runbook's roles.
- `cloud.serve(port)` expose the same embedded AWS on http://127.0.0.1:PORT (`wavectl local up`).

`LocalCloud(..., waves=("orders-db",))` deploys and seeds only those waves' stacks (and the control
plane), without the payment bridge: for tests that exercise one wave at scale, where deploying and
seeding the whole program is most of a start's cost.

Only one LocalCloud runs per process at a time (moto's backends and the patches are global).
"""

from __future__ import annotations

import json
import os
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

from tasks.contracts import cold_start_all
from wavectl.local import chaos as fault_injection
from wavectl.local import patches
from wavectl.local.accounts import (
    ProgramAccounts,
    account_session,
    assumed_session,
    create_workload_roles,
    forget_account_sessions,
    program_accounts,
    tooling_session,
)
from wavectl.local.assembly import read_assembly
from wavectl.local.chaos import Chaos
from wavectl.local.clock import SimClock, Speed
from wavectl.local.deploy import SLACK_API_URL_VARIABLE, DeployTarget, deploy_assembly
from wavectl.local.eventbridge import LocalEventBus
from wavectl.local.functions import InProcessLambda
from wavectl.local.rds_durations import RdsDurations
from wavectl.local.resources import Resources
from wavectl.local.route53 import Route53Journal
from wavectl.local.slack import LOCAL_BOT_TOKEN, LOCAL_SIGNING_SECRET, LocalSlack
from wavectl.local.transfer import LocalTransfer
from wavectl.runbook import Runbook

MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
_FAKE_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_EC2_METADATA_DISABLED": "true",
    "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",  # 1.6 s per region and nothing here launches instances
    "TZ": "UTC",
}
_REMOVED_ENVIRONMENT = (
    "AWS_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ENDPOINT_URL",
    "MOTO_ACCOUNT_ID",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
)
_running: LocalCloud | None = None
_running_lock = threading.Lock()


class FunctionFailed(Exception):
    """A function invoked with `LocalCloud.invoke_function` raised; `error_type` is its error name."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type
        self.message = message


class LocalCloud:
    """The embedded AWS with the program deployed (see the module docstring for the interface)."""

    def __init__(
        self,
        runbook: Runbook,
        assembly: Path,
        *,
        speed: Speed | str | float | None = None,
        seed_estate: bool = True,
        chaos: Chaos | None = None,
        waves: tuple[str, ...] | None = None,
    ) -> None:
        self.runbook = runbook
        self.only_waves = waves  # None: the whole program
        self.assembly = Path(assembly)
        self.speed = speed if isinstance(speed, Speed) else Speed.parse(speed)
        self.region = runbook.program.home_region
        self.accounts: ProgramAccounts = program_accounts(runbook)
        self.clock = SimClock()
        self.route53 = Route53Journal(self.clock.simulated_elapsed)
        self.rds_durations = RdsDurations(now=self.clock.simulated_elapsed)
        self.lambdas = InProcessLambda()
        self.slack = LocalSlack()
        self.resources = Resources()
        self.events = LocalEventBus(self)
        self.transfer = LocalTransfer(self)
        self.bridge: Any = None  # the LocalBridge (SFTP server + counterparty) when there is a payment bridge
        self.estate: dict[str, Any] = {}
        self.slack_page_url = ""  # the local Slack channel page, once started
        self.slack_interactions_url = ""  # POST /slack/interactions over HTTP, once serve() runs
        self._seed_estate = seed_estate
        self.chaos = chaos  # faults injected into the task functions (wavectl demo --chaos)
        self._stack = ExitStack()
        self._server: Any = None
        self.session: boto3.Session = tooling_session(self.region)

    # -------------------------------------------------------------------- lifecycle

    def start(self) -> LocalCloud:
        global _running
        with _running_lock:
            if _running is not None:
                raise RuntimeError("a LocalCloud is already running in this process; stop it first")
            _running = self
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        from moto import mock_aws

        self._stack.callback(_restore_environment, _fake_environment(self.region))
        mock = mock_aws(config=MOTO_CONFIG)
        mock.start()
        cold_start_all()  # new accounts and credentials: no function's warm state carries over
        forget_account_sessions()
        self._stack.callback(mock.stop)
        self.events = LocalEventBus(self)
        self._stack.callback(self.events.close)
        self._stack.enter_context(patches.install(self))
        if self.chaos is not None:
            self._stack.enter_context(fault_injection.injected(self, self.chaos))
        self.slack.start()
        self._stack.callback(self.slack.stop)
        self._stack.callback(self._stop_executions)
        self.session = tooling_session(self.region)
        create_workload_roles(self.runbook, self.region)
        if self.only_waves is None:
            self._start_bridge()
        self.resources = deploy_assembly(self._stacks(), self._deploy_target())
        if self.bridge is not None:
            self.bridge.start_polling(self)
        from wavectl.local import slack_page  # the page clicks through gates, which need the deployed cloud

        self.slack_page_url = slack_page.register(self)
        if self._seed_estate:
            from wavectl.local.estate import seed_estate

            self.estate = seed_estate(self, self.only_waves)
        self.rds_durations.start()  # the seeded estate is available; what the waves start takes time

    def _stacks(self) -> list[Any]:
        """The tooling account's stacks to deploy: all, or the control plane and the chosen waves' stacks.

        The source and target accounts' role stacks are deployed by those accounts' owners on AWS, and
        stood for here by create_workload_roles (same trust: the external id)."""
        tooling = self.runbook.program.accounts.tooling
        stacks = [stack for stack in read_assembly(self.assembly) if stack.account == tooling]
        if self.only_waves is None:
            return stacks
        wanted = {"ControlPlane", *(f"Wave-{wave}" for wave in self.only_waves)}
        return [stack for stack in stacks if stack.artifact_id in wanted]

    def _start_bridge(self) -> None:
        """The new owner's SFTP endpoint and counterparty, when the program has a payment bridge."""
        settings = getattr(self.runbook.program, "payment_bridge", None)
        if settings is None:
            return
        from wavectl.local.bridge import LocalBridge

        self.bridge = LocalBridge(settings).start()
        self._stack.callback(self.bridge.stop)
        self._stack.callback(self.events.drain)  # deliveries in flight finish while the far side still runs

    def _deploy_target(self) -> DeployTarget:
        slack = self.runbook.program.slack
        secrets = {slack.signing_secret: LOCAL_SIGNING_SECRET, slack.bot_token: LOCAL_BOT_TOKEN}
        if self.bridge is not None:
            secrets |= self.bridge.secret_values()
        return DeployTarget(
            session=self.session,
            secret_values=secrets,
            function_environment={SLACK_API_URL_VARIABLE: self.slack.base_url},
            connector_endpoint=self.bridge.connector_endpoint() if self.bridge is not None else None,
        )

    def stop(self) -> None:
        global _running
        try:
            self._stack.close()
        finally:
            with _running_lock:
                if _running is self:
                    _running = None

    def __enter__(self) -> LocalCloud:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _stop_executions(self) -> None:
        """Abort what still runs, so no interpreter thread outlives the mock (and reaches for real AWS)."""
        sfn = self.session.client("stepfunctions")
        running = []
        machines = [m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]]
        for arn in machines:
            for page in sfn.get_paginator("list_executions").paginate(
                stateMachineArn=arn, statusFilter="RUNNING"
            ):
                running += [e["executionArn"] for e in page["executions"]]
        for execution_arn in running:
            _stop_execution(sfn, execution_arn)
        deadline = time.monotonic() + 2.0
        while running and time.monotonic() < deadline:
            statuses = [sfn.describe_execution(executionArn=a)["status"] for a in running]
            if "RUNNING" not in statuses:
                break
            time.sleep(0.05)

    # -------------------------------------------------------------------- server mode

    def serve(self, port: int, *, access_log: bool = False) -> str:
        """Expose this embedded AWS on http://127.0.0.1:PORT (same backends, same in-process tasks),
        with Slack's interactivity route `POST /slack/interactions` in front (slack_endpoint.py).

        Quiet by default: the per-request access log (werkzeug's) only with `access_log`."""
        import logging

        from wavectl.local import slack_endpoint

        logging.getLogger("werkzeug").setLevel(logging.INFO if access_log else logging.ERROR)
        self._server = slack_endpoint.Server(self, port)
        port = self._server.start()
        self._stack.callback(self._server.stop)
        self.slack_interactions_url = f"http://127.0.0.1:{port}{slack_endpoint.INTERACTIONS_PATH}"
        return f"http://127.0.0.1:{port}"

    # -------------------------------------------------------------------- helpers for callers

    def invoke_function(self, name: str, event: Any) -> Any:
        """Invoke a deployed function in-process; its result, or `FunctionFailed` if it raised."""
        response = self.session.client("lambda").invoke(FunctionName=name, Payload=json.dumps(event).encode())
        payload = response["Payload"].read()
        result = json.loads(payload) if payload else None
        if response.get("FunctionError"):
            raise FunctionFailed(result.get("errorType", "Unknown"), result.get("errorMessage", ""))
        return result

    def account_session(self, account: str) -> boto3.Session:
        return account_session(account, self.region)

    def source_session(self, region: str | None = None) -> boto3.Session:
        return assumed_session(
            self.accounts.source_role_arn, region or self.region, external_id=self._external_id
        )

    def target_session(self, region: str | None = None) -> boto3.Session:
        return assumed_session(
            self.accounts.target_role_arn, region or self.region, external_id=self._external_id
        )

    @property
    def _external_id(self) -> str:
        return self.runbook.program.workload_external_id


def _stop_execution(sfn: Any, execution_arn: str, attempts: int = 20) -> None:
    """Stop one execution; moto fails to stop one whose worker has not set up yet, so try again."""
    for _ in range(attempts):
        try:
            sfn.stop_execution(
                executionArn=execution_arn, error="Wavectl.LocalStopped", cause="local cloud stopped"
            )
            return
        except AttributeError:
            time.sleep(0.05)
        except ClientError as error:  # the same, answered as a JSON error by the operation-errors patch
            if "set_stop" not in str(error):
                raise
            time.sleep(0.05)


def running_cloud() -> LocalCloud | None:
    """The LocalCloud running in this process, if any."""
    return _running


def _fake_environment(region: str) -> dict[str, str | None]:
    """Install fake credentials and UTC; return what to restore."""
    saved: dict[str, str | None] = {}
    for name in (*_FAKE_ENVIRONMENT, *_REMOVED_ENVIRONMENT, "AWS_DEFAULT_REGION"):
        saved[name] = os.environ.get(name)
    for name in _REMOVED_ENVIRONMENT:
        os.environ.pop(name, None)
    os.environ.update(_FAKE_ENVIRONMENT)
    os.environ["AWS_DEFAULT_REGION"] = region
    time.tzset()
    return saved


def _restore_environment(saved: dict[str, str | None]) -> None:
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    time.tzset()
