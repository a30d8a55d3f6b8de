"""Start a wave on its `live` alias, watch it, answer its approval gates, collect the result.

`start_wave` needs only a boto3 session (it works against `wavectl local up` from another process
too); `run_wave` / `run_program` drive a `LocalCloud` in this process.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import boto3

from tasks.contracts import LIVE_ALIAS
from wavectl.local.archive import deliver_execution_end
from wavectl.local.history import ExecutionError, execution_error, history_events, position
from wavectl.runbook import Runbook

if TYPE_CHECKING:
    from wavectl.local.engine import LocalCloud

POLL_SECONDS = 0.05  # how often the execution status is read
LOOK_SECONDS = 0.25  # how often its history is read for progress, and its gates answered
# Gates are looked for when Slack has news (a gate posts its request there when it opens), else this
# often: reading the approvals table four times a second cost a 50-database wave 15 % of its CPU.
GATE_FALLBACK_SECONDS = 2.0
DEFAULT_TIMEOUT_SECONDS = 300.0
DEFAULT_REQUESTER = "wavectl-local"


@dataclass(frozen=True)
class Progress:
    wave: str
    execution_arn: str
    status: str
    current_state: str | None
    pending_gates: tuple[str, ...]
    real_seconds: float
    simulated_seconds: float


@dataclass
class WaveRun:
    """The outcome of one wave execution."""

    wave: str
    status: str  # SUCCEEDED | FAILED | ABORTED | TIMED_OUT | RUNNING | NOT_STARTED
    execution_arn: str | None = None
    version_arn: str | None = None
    error: ExecutionError | None = None
    output: Any = None
    real_seconds: float = 0.0
    simulated_seconds: float = 0.0
    states: list[str] = field(default_factory=list)  # states entered, in order

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCEEDED"


ProgressCallback = Callable[[Progress], None]


def execution_name(wave: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{wave}-{stamp}-{uuid.uuid4().hex[:6]}"[:80]


def start_wave(
    session: boto3.Session,
    runbook: Runbook,
    wave: str,
    requested_by: str = DEFAULT_REQUESTER,
    client: Any = None,
    extra_input: dict[str, Any] | None = None,
) -> str:
    """Start `wave` on its `live` alias with input `{"requested_by": ..., **extra_input}` (e.g.
    `{"dry_run": True}` or a `change_ticket`); return the execution ARN."""
    runbook.wave(wave)  # unknown wave: KeyError naming the known ones
    sfn = client or session.client("stepfunctions")
    response = sfn.start_execution(
        stateMachineArn=f"{runbook.state_machine_arn(wave, session.region_name)}:{LIVE_ALIAS}",
        name=execution_name(wave),
        input=json.dumps({"requested_by": requested_by, **(extra_input or {})}),
    )
    return response["executionArn"]


def run_wave(
    cloud: LocalCloud,
    wave: str,
    *,
    requested_by: str = DEFAULT_REQUESTER,
    extra_input: dict[str, Any] | None = None,
    answer_gates: bool = True,
    on_progress: ProgressCallback | None = None,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    starter: Any = None,
) -> WaveRun:
    """Run one wave to its end in `cloud`, answering its gates as the configured approvers would.

    `starter` is the Step Functions client that starts it, to start as another identity (a person's
    session: CloudTrail then names them as the requester); default the cloud's own."""
    sfn = cloud.session.client("stepfunctions")
    real_start, simulated_start = cloud.clock.real_elapsed(), cloud.clock.simulated_elapsed()
    execution_arn = start_wave(
        cloud.session, cloud.runbook, wave, requested_by, client=starter or sfn, extra_input=extra_input
    )
    answer = gate_answerer(cloud) if answer_gates else None
    description = _wait(cloud, sfn, wave, execution_arn, answer, on_progress, timeout)
    deliver_execution_end(cloud.session, cloud.runbook, execution_arn)  # EventBridge's job on AWS
    events = history_events(sfn, execution_arn)
    return WaveRun(
        wave=wave,
        status=description["status"],
        execution_arn=execution_arn,
        version_arn=description.get("stateMachineVersionArn"),
        error=execution_error(description, events),
        output=json.loads(description["output"]) if description.get("output") else None,
        real_seconds=cloud.clock.real_elapsed() - real_start,
        simulated_seconds=cloud.clock.simulated_elapsed() - simulated_start,
        states=[e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e],
    )


def _wait(
    cloud: LocalCloud,
    sfn: Any,
    wave: str,
    execution_arn: str,
    answer: Callable[[str], None] | None,
    on_progress: ProgressCallback | None,
    timeout: float,
) -> dict[str, Any]:
    """Poll until the execution ends; report progress and answer gates a few times a second only
    (reading the history and the approvals table competes with the execution for the CPU)."""
    deadline = time.monotonic() + timeout
    real_start, simulated_start = cloud.clock.real_elapsed(), cloud.clock.simulated_elapsed()
    next_look = 0.0
    while True:
        description = sfn.describe_execution(executionArn=execution_arn)
        running = description["status"] == "RUNNING"
        look = not running or time.monotonic() >= next_look
        if on_progress is not None and look:
            where = position(history_events(sfn, execution_arn))
            real = cloud.clock.real_elapsed() - real_start
            simulated = cloud.clock.simulated_elapsed() - simulated_start
            status = description["status"]
            on_progress(
                Progress(
                    wave, execution_arn, status, where.current_state, where.pending_gates, real, simulated
                )
            )
        if not running:
            return description
        if time.monotonic() > deadline:
            sfn.stop_execution(
                executionArn=execution_arn,
                error="Wavectl.LocalTimeout",
                cause=f"still running after {timeout:.0f}s of real time",
            )
            return sfn.describe_execution(executionArn=execution_arn)
        if answer is not None and look:
            answer(execution_arn)
        if look:
            next_look = time.monotonic() + LOOK_SECONDS
        time.sleep(POLL_SECONDS)


# ----------------------------------------------------------------------------- approval gates


def gate_answerer(cloud: LocalCloud) -> Callable[[str], None]:
    """How the demo answers gates: signed Slack clicks to the real callback handler, as the first
    members of each gate's group (`wavectl.local.gates.answer_pending_gates`).

    It reads the approvals table only when the local Slack has news since it last looked (an opening
    gate posts its request first) or `GATE_FALLBACK_SECONDS` have passed (a post that failed)."""
    from wavectl.local import gates

    seen = {"events": -1, "at": 0.0}

    def answer(execution_arn: str) -> None:
        events, now = cloud.slack.event_count(), time.monotonic()
        if events == seen["events"] and now - seen["at"] < GATE_FALLBACK_SECONDS:
            return
        seen.update(events=events, at=now)
        gates.answer_pending_gates(cloud, cloud.runbook, execution_arn)

    return answer


# ----------------------------------------------------------------------------- the whole program


def run_program(
    cloud: LocalCloud,
    *,
    on_progress: ProgressCallback | None = None,
    on_done: Callable[[WaveRun], None] | None = None,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> list[WaveRun]:
    """Every wave in dependency order; a wave whose dependency did not succeed is NOT_STARTED.
    A wave still running after `timeout` seconds of real time is stopped (`Wavectl.LocalTimeout`)."""
    runs: list[WaveRun] = []
    succeeded: set[str] = set()
    for wave in cloud.runbook.ordered_waves():
        if not set(wave.depends_on) <= succeeded:
            run = WaveRun(wave=wave.wave, status="NOT_STARTED")
        else:
            run = run_wave(
                cloud, wave.wave, requested_by="wavectl-demo", on_progress=on_progress, timeout=timeout
            )
        if run.succeeded:
            succeeded.add(wave.wave)
        runs.append(run)
        if on_done is not None:
            on_done(run)
    return runs


def run_with_dependencies(
    cloud: LocalCloud,
    wave: str,
    *,
    on_progress: ProgressCallback | None = None,
    on_done: Callable[[WaveRun], None] | None = None,
) -> list[WaveRun]:
    """`wave` after the waves it (transitively) depends on, each in dependency order."""
    needed = _closure(cloud.runbook, wave)
    runs: list[WaveRun] = []
    for item in cloud.runbook.ordered_waves():
        if item.wave not in needed:
            continue
        if any(r.wave in item.depends_on and not r.succeeded for r in runs):
            run = WaveRun(wave=item.wave, status="NOT_STARTED")
        else:
            run = run_wave(cloud, item.wave, on_progress=on_progress)
        runs.append(run)
        if on_done is not None:
            on_done(run)
    return runs


def _closure(runbook: Runbook, wave: str) -> set[str]:
    needed, todo = set(), [wave]
    while todo:
        name = todo.pop()
        if name not in needed:
            needed.add(name)
            todo += runbook.wave(name).depends_on
    return needed
