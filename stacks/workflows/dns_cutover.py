"""Workflow body of the `dns-cutover` wave kind.

    Preflight ─► Dry run? ─► Lower TTL (one change, INSYNC) ─► Wait out the original TTL ($.ttl.wait_seconds)
    ─► Approval: begin-shift ─► Start at the first step
    ┌► Gate before this step? ─(gated)─► Approval: shift ($.cursor.gate) ─┐
    │        └──────────────────────────────────────────────────────────┴► Shift weights (one change)
    │   ─► Wait for the next poll ─► Watch alarms ─► Bake over? ─(no)─► Wait for the next poll
    └── Next step ◄─(not last)─┘                         └─(last)─► Rollback window (Parallel:
          Approval: close-rollback-window  ‖  watch alarms until it is answered or the window ends)
    ─► Close rollback window (old sets removed, final TTL) ─► Record evidence

Preflight touches nothing, so its failure fails the wave at once. Any later failure, rejection,
approval timeout or alarm trip is caught into `$.error` and compensated by `Roll back` (old = 100,
new = 0 on every record in one change; idempotent), then re-raised by the final Fail. The records and
steps are in the task functions' environment (compressed JSON), so the definition is the same size
for 1 or 50 records and 2 or 20 steps: the loop walks `$.cursor` through the step list.
"""

from __future__ import annotations

from aws_cdk import Aws, Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn

from stacks.constructs.slack_token import grant_slack_bot_token
from stacks.constructs.task_function import TaskFunction
from stacks.names import evidence_bucket_name
from stacks.workflows.approval_gate import approval_gate
from stacks.workflows.context import WaveContext
from stacks.workflows.frame import (
    compensated_step,
    dry_run_exit,
    fail_with_caught_error,
    preflight_step,
    step_note,
)
from tasks import contracts
from wavectl.kinds.dns_cutover import DnsCutoverWave, encoded_task_spec

HANDLERS = "tasks.dns_cutover.handler"
ERROR_PATH = "$.error"
EXECUTION = "$$.Execution.Id"
WINDOW_GATE = "close-rollback-window"
# task -> (description, timeout seconds); Route 53 changes are waited on until INSYNC inside the task
TASKS: dict[str, tuple[str, int]] = {
    "preflight": ("read-only checks of the zone, records, targets, health checks, alarms and role", 120),
    "lower_ttl": ("lower every record's TTL to the cutover TTL in one change, remember the originals", 900),
    "shift": ("set one step's weights on every record in one change", 900),
    "watch": ("one poll of the alarms and the new targets' health checks", 60),
    "window": ("start watching the rollback window", 30),
    "close_window": ("remove the old weighted records, set the final TTL", 900),
    "rollback": ("old = 100 / new = 0 on every record in one change, tell Slack, record evidence", 900),
    "record_evidence": ("write the wave's evidence record with the final record sets", 120),
}


def build(ctx: WaveContext) -> sfn.IChainable:
    wave = ctx.wave
    assert isinstance(wave, DnsCutoverWave)
    functions = _functions(ctx, wave)
    rollback = _rollback(ctx, functions["rollback"])

    def task(state_id: str, name: str, payload: dict, result_path: str, comment: str | None = None):
        return compensated_step(
            ctx,
            state_id,
            functions[name],
            payload,
            on_failure=rollback,
            result_path=result_path,
            comment=comment,
        )

    preflight = preflight_step(ctx, functions["preflight"])
    lower = task("Lower TTL", "lower_ttl", {}, "$.ttl", "one change for every record, waited on until INSYNC")
    wait_ttl = sfn.Wait(
        ctx.scope,
        "Wait out the original TTL",
        time=sfn.WaitTime.seconds_path("$.ttl.wait_seconds"),
        comment="exactly the largest original TTL: resolvers drop what they cached before the change",
    )
    begin = approval_gate(ctx, "begin-shift", summary_path="$.preflight.summary", on_failure=rollback)
    first = sfn.Pass(
        ctx.scope, "Start at the first step", input_path="$.preflight.first", result_path="$.cursor"
    )
    shift_loop = _shift_loop(ctx, task, rollback)
    window, evidence = _after_last_step(ctx, wave, task, functions, rollback)
    (
        sfn.Chain.start(preflight)
        .next(dry_run_exit(ctx, "preflight"))
        .next(lower)
        .next(step_note(ctx, "TTL lowered on every record"))
        .next(wait_ttl)
        .next(begin)
        .next(first)
        .next(shift_loop(window))
    )
    return sfn.Chain.custom(preflight, [evidence], evidence)


# ----------------------------------------------------------------------------- the steps


def _shift_loop(ctx: WaveContext, task, rollback: sfn.IChainable):
    def loop(after_last: sfn.IChainable) -> sfn.IChainable:
        gate_first = sfn.Choice(ctx.scope, "Gate before this step?")
        gate = approval_gate(
            ctx, "shift", gate_path="$.cursor.gate", summary_path="$.cursor.summary", on_failure=rollback
        )
        shift = task(
            "Shift weights",
            "shift",
            {"index.$": "$.cursor.index"},
            "$.shift",
            "new = step %, old = 100 - step % on every record in one change, waited on until INSYNC",
        )
        wait = sfn.Wait(
            ctx.scope,
            "Wait for the next poll",
            time=sfn.WaitTime.seconds_path("$.shift.watch.poll_seconds"),
            comment="alarm_poll: a trip is acted on at the next poll",
        )
        watch = task(
            "Watch alarms",
            "watch",
            {"watch.$": "$.shift.watch"},
            "$.shift.watch",
            "Wavectl.AlarmTripped on an alarm in ALARM or an unhealthy new target",
        )
        over = sfn.Choice(ctx.scope, "Bake over?")
        following = sfn.Pass(ctx.scope, "Next step", input_path="$.shift.next", result_path="$.cursor")
        gate_first.when(sfn.Condition.boolean_equals("$.cursor.gated", True), gate)
        gate_first.otherwise(shift)
        gate.next(shift)
        shifted = step_note(
            ctx,
            "Weights shifted",
            detail_path="States.Format('{}% of traffic on the new targets, baking', $.shift.step.weight)",
        )
        shift.next(shifted).next(wait).next(watch).next(over)
        over.when(sfn.Condition.boolean_equals("$.shift.watch.done", False), wait)
        over.when(sfn.Condition.boolean_equals("$.shift.step.last", True), after_last)
        over.otherwise(following)
        following.next(gate_first)
        return gate_first

    return loop


def _after_last_step(ctx: WaveContext, wave: DnsCutoverWave, task, functions, rollback):
    window = sfn.Parallel(
        ctx.scope,
        "Rollback window",
        result_path=sfn.JsonPath.DISCARD,
        comment="old records at weight 0 until the gate is approved (finish early) or the window ends; "
        "a rejection or an alarm trip rolls back",
    )
    window.branch(_window_gate(ctx, wave))
    window.branch(_window_watch(ctx, functions))
    window.add_catch(rollback, errors=[sfn.Errors.ALL], result_path=ERROR_PATH)
    close = task(
        "Close rollback window",
        "close_window",
        {"ttl.$": "$.ttl"},
        "$.close",
        "old weighted records removed (kept in evidence), final TTL set",
    )
    evidence = ctx.invoke(
        "Record evidence",
        functions["record_evidence"],
        {
            "execution.$": EXECUTION,
            "request.$": "$.request",
            "preflight.$": "$.preflight",
            "ttl.$": "$.ttl",
            "close.$": "$.close",
        },
        result_path="$.outcome",
    )
    window.next(close).next(step_note(ctx, "Rollback window closed, old records removed")).next(evidence)
    return window, evidence


def _window_gate(ctx: WaveContext, wave: DnsCutoverWave) -> sfn.IChainable:
    done = sfn.Succeed(ctx.scope, "Window closed by its gate")
    elapsed = sfn.Succeed(ctx.scope, "Window elapsed")
    rejected = fail_with_caught_error(ctx, "Window rejected")
    window = wave.dns.rollback_window
    gate = approval_gate(
        ctx,
        WINDOW_GATE,
        summary=f"Traffic is 100% on the new targets. Approve to close the rollback window now (the old "
        f"records are removed); reject to roll back to the old targets. It closes by itself after "
        f"{window // 3600}h {window % 3600 // 60:02d}m.",
        timeout=window,
        on_timeout=elapsed,
        on_failure=rejected,
    )
    return gate.next(done)


def _window_watch(ctx: WaveContext, functions: dict[str, TaskFunction]) -> sfn.IChainable:
    start = ctx.invoke(
        "Start watching the window",
        functions["window"],
        {"execution.$": EXECUTION, "watch.$": "$.shift.watch"},
        result_path="$.window",
    )
    wait = sfn.Wait(
        ctx.scope,
        "Wait for the next window poll",
        time=sfn.WaitTime.seconds_path("$.window.watch.poll_seconds"),
    )
    watch = ctx.invoke(
        "Watch alarms in the window",
        functions["watch"],
        {"execution.$": EXECUTION, "watch.$": "$.window.watch"},
        result_path="$.window.watch",
    )
    over = sfn.Choice(ctx.scope, "Window over?")
    over.when(
        sfn.Condition.boolean_equals("$.window.watch.done", True), sfn.Succeed(ctx.scope, "Window watched")
    )
    over.otherwise(wait)
    start.next(wait).next(watch).next(over)
    return start


# ----------------------------------------------------------------------------- compensation


def _rollback(ctx: WaveContext, function: TaskFunction) -> sfn.IChainable:
    """Roll back (idempotent: a re-run changes nothing), then fail with the caught error."""
    fail = fail_with_caught_error(ctx, "Wave failed")
    step = ctx.invoke(
        "Roll back",
        function,
        {"execution.$": EXECUTION, "error.$": ERROR_PATH, "ttl.$": "$.ttl"},
        result_path="$.rollback",
        comment="old = 100, new = 0 on every record, original TTL, one change; Slack; evidence",
    )
    step.add_retry(errors=[sfn.Errors.ALL], interval=Duration.seconds(10), max_attempts=3, backoff_rate=2)
    step.add_catch(fail, errors=[sfn.Errors.ALL], result_path="$.rollback_error")
    return step.next(fail)


# ----------------------------------------------------------------------------- functions


def _functions(ctx: WaveContext, wave: DnsCutoverWave) -> dict[str, TaskFunction]:
    spec = {contracts.ENV_DNS_WAVE_SPEC: encoded_task_spec(wave)}
    program = ctx.program
    functions = {}
    for task, (description, timeout) in TASKS.items():
        environment = dict(spec)
        if task == "rollback":
            environment.update(
                {
                    contracts.ENV_SLACK_CHANNEL: program.slack.channel,
                    contracts.ENV_SLACK_BOT_TOKEN_SECRET: program.slack.bot_token,
                }
            )
        if task == "watch":
            environment[contracts.ENV_APPROVALS_TABLE] = ctx.control.approvals_table.table_name
        function = ctx.task_function(
            f"dns-{task.replace('_', '-')}",
            f"{HANDLERS}.{task}",
            description=f"{wave.wave}: {description}",
            timeout=Duration.seconds(timeout),
            environment=environment,
        )
        if task != "window":
            ctx.assume_workload_roles(function)
        functions[task] = function
    for task in ("lower_ttl", "shift", "watch", "close_window", "rollback", "record_evidence"):
        _grant_evidence(ctx, functions[task], read=task == "lower_ttl")
    _grant_window_gate_read(ctx, functions["watch"])
    grant_slack_bot_token(
        functions["rollback"], ctx.program.slack.bot_token, ctx.control.key
    )  # rollback message
    return functions


def _grant_evidence(ctx: WaveContext, function: TaskFunction, *, read: bool) -> None:
    """Write-once evidence under this wave's prefix; `read`: also read back what it wrote (the
    original TTLs, so that a retried lower_ttl keeps the first reading)."""
    ctx.grant_evidence_write(function)
    if not read:
        return
    objects = f"{evidence_bucket_name(ctx.runbook)}/waves/{ctx.wave.wave}/*"
    function.role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="ReadOriginalTtls",
            actions=["s3:GetObject"],
            resources=[f"arn:{Aws.PARTITION}:s3:::{objects}"],
        )
    )
    function.role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="ReadOriginalTtlsKey", actions=["kms:Decrypt"], resources=[ctx.control.key.key_arn]
        )
    )


def _grant_window_gate_read(ctx: WaveContext, function: TaskFunction) -> None:
    """GetItem on the approvals table: has the close-rollback-window gate been answered?"""
    function.role.add_to_policy(
        iam.PolicyStatement(
            sid="ReadWindowGate",
            actions=["dynamodb:GetItem"],
            resources=[ctx.control.approvals_table.table_arn],
        )
    )
    function.role.add_to_policy(
        iam.PolicyStatement(
            sid="DecryptApprovals", actions=["kms:Decrypt"], resources=[ctx.control.key.key_arn]
        )
    )
