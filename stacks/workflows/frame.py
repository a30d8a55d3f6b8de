"""The common frame every wave's workflow starts with: input, freeze windows, dependencies, who started
it, and the "started" message that roots the execution's Slack thread; and the notes a wave's body
posts in that thread when a main step finishes (`step_note`).
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn

from stacks.constructs.lambda_step import lambda_step
from stacks.constructs.nag import acknowledge
from stacks.constructs.task_function import TaskFunction
from stacks.workflows.approval_gate import request_function
from stacks.workflows.context import WaveContext
from tasks import contracts

DRY_RUN_CHOICE = "Dry run?"
NOTE_PREFIX = "Tell Slack: "  # a note in the execution's Slack thread: changes nothing, never fails


def dependency_arns(ctx: WaveContext) -> list[dict[str, str]]:
    stack = Stack.of(ctx.scope)
    return [
        {
            "wave": dep,
            "state_machine_arn": stack.format_arn(
                service="states",
                resource="stateMachine",
                resource_name=ctx.runbook.state_machine_name(dep),
                arn_format=ArnFormat.COLON_RESOURCE_NAME,
            ),
        }
        for dep in ctx.wave.depends_on
    ]


def _executions_arn(ctx: WaveContext, wave: str) -> str:
    """The ARN of every execution of one dependency's state machine (and nothing else)."""
    stack, name = Stack.of(ctx.scope), ctx.runbook.state_machine_name(wave)
    acknowledge(
        ctx.scope,
        f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:{stack.region}:{stack.account}"
        f":execution:{name}:*]",
        f"the dependency rule reads the executions of '{wave}' only (their input and history); "
        "execution names are not known at synth time.",
    )
    return stack.format_arn(
        service="states",
        resource="execution",
        resource_name=f"{name}:*",
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )


def guard_state(ctx: WaveContext) -> sfn.IChainable:
    """Validate the execution input, refuse in a freeze window or with an unmet dependency."""
    function = ctx.task_function(
        "guard",
        "tasks.frame.handler.guard",
        description=f"{ctx.wave.wave}: input, freeze window and dependency checks",
        timeout=Duration.seconds(30),
        memory_mb=256,
    )
    deps = dependency_arns(ctx)
    if deps:
        function.role.add_to_policy(
            iam.PolicyStatement(
                actions=["states:ListExecutions"], resources=[d["state_machine_arn"] for d in deps]
            )
        )
        # the dependency rule reads each execution's input (dry run?) and history (past its first gate?)
        function.role.add_to_policy(
            iam.PolicyStatement(
                actions=["states:DescribeExecution", "states:GetExecutionHistory"],
                resources=[_executions_arn(ctx, dep) for dep in ctx.wave.depends_on],
            )
        )
        # those state machines are encrypted with the program key: reading them decrypts (through Step
        # Functions only), and the key's policy names this role for it (stacks/key_policy.py)
        function.role.add_to_policy(
            iam.PolicyStatement(
                sid="DecryptDependencyExecutions",
                actions=["kms:Decrypt"],
                resources=[ctx.control.key.key_arn],
                conditions={
                    "StringEquals": {"kms:ViaService": f"states.{Stack.of(ctx.scope).region}.amazonaws.com"}
                },
            )
        )
    payload = {
        contracts.GUARD_INPUT + ".$": "$",
        contracts.GUARD_EXECUTION + ".$": "$$.Execution.Id",
        "now.$": "$$.State.EnteredTime",
        contracts.GUARD_WAVE: {"name": ctx.wave.wave, "kind": ctx.wave.kind, "version": ctx.wave.version},
        contracts.GUARD_FREEZE: [
            {"name": f.name, "start": f.start.isoformat(), "end": f.end.isoformat()}
            for f in ctx.program.freeze
        ],
        contracts.GUARD_DEPENDS_ON: deps,
    }
    return ctx.invoke(
        "Check request",
        function,
        payload,
        result_path=contracts.REQUEST_PATH,
        comment="input, freeze windows and dependencies (Wavectl.InvalidInput / Frozen / DependencyNotMet)",
    )


def requester_state(ctx: WaveContext) -> sfn.IChainable:
    """Who started the execution, from CloudTrail, before any gate opens (tasks/frame/requester.py).

    While CloudTrail has not delivered the StartExecution event the task fails with
    Wavectl.RequesterPending and is retried (the task itself gives up 15 minutes after the start);
    Wavectl.RequesterUnknown fails the execution before anything changed."""
    function = ctx.task_function(
        "requester",
        "tasks.frame.requester_handler.resolve",
        description=f"{ctx.wave.wave}: who started this execution (CloudTrail StartExecution caller)",
        timeout=Duration.seconds(30),
        memory_mb=256,
    )
    function.role.add_to_policy(
        iam.PolicyStatement(
            sid="LookUpStartExecutionCallerInCloudTrail", actions=["cloudtrail:LookupEvents"], resources=["*"]
        )
    )
    acknowledge(
        function.role,
        "AwsSolutions-IAM5[Resource::*]",
        "cloudtrail:LookupEvents supports no resource-level permissions, so it needs Resource *. "
        "Read-only; this function only finds who started the execution.",
    )
    payload = {
        "execution.$": "$$.Execution.Id",
        "started_at.$": "$$.Execution.StartTime",
        "now.$": "$$.State.EnteredTime",
        "requested_by.$": f"{contracts.REQUEST_PATH}.requested_by",
        "dry_run.$": f"{contracts.REQUEST_PATH}.dry_run",
        "requester_policy": ctx.wave.requester,
    }
    step = ctx.invoke(
        "Resolve requester",
        function,
        payload,
        result_path=contracts.REQUESTER_PATH,
        comment="the StartExecution caller from CloudTrail, before any gate (Wavectl.RequesterUnknown)",
    )
    step.add_retry(
        errors=[contracts.ErrorName.REQUESTER_PENDING.value],
        interval=Duration.seconds(20),
        backoff_rate=1.5,
        max_delay=Duration.seconds(90),
        max_attempts=30,
    )
    return step


def _wave_ref(ctx: WaveContext) -> dict:
    return {"name": ctx.wave.wave, "kind": ctx.wave.kind, "version": ctx.wave.version}


def _note(ctx: WaveContext, what: str, payload: dict, comment: str) -> sfn.TaskStateBase:
    """A `Tell Slack: <what>` state: the approval request function posts in the execution's thread.
    Its handler never raises (tasks/approvals/thread.py), so a note cannot change the wave's course."""
    return lambda_step(
        ctx.scope,
        f"{NOTE_PREFIX}{what}",
        request_function(ctx),
        {"execution.$": "$$.Execution.Id", "wave": _wave_ref(ctx), **payload},
        result_path=sfn.JsonPath.DISCARD,
        comment=comment,
    )


def started_note(ctx: WaveContext) -> sfn.TaskStateBase:
    """The message that roots the execution's Slack thread: who started it (the verified requester's
    runbook name), the version, the ticket, dry run or real."""
    payload = {
        "action": contracts.ACTION_STARTED,
        "started_at.$": "$$.Execution.StartTime",
        "request.$": contracts.REQUEST_PATH,
    }
    return _note(ctx, "started", payload, "the started message roots this execution's Slack thread")


def step_note(ctx: WaveContext, step: str, *, detail_path: str | None = None) -> sfn.TaskStateBase:
    """A reply in the execution's Slack thread saying a main step finished (`step`, a short sentence;
    `detail_path` a JSONPath or intrinsic adding what it did)."""
    payload: dict = {"action": contracts.ACTION_STEP, "step": step, "at.$": "$$.State.EnteredTime"}
    if detail_path is not None:
        payload["detail.$"] = detail_path
    return _note(ctx, step, payload, "a main step finished, said in the execution's Slack thread")


def wrap_in_frame(ctx: WaveContext, body: sfn.IChainable) -> sfn.IChainable:
    done = sfn.Succeed(ctx.scope, "Wave complete")
    return (
        sfn.Chain.start(guard_state(ctx))
        .next(requester_state(ctx))
        .next(started_note(ctx))
        .next(body)
        .next(done)
    )


def fail_with_caught_error(ctx: WaveContext, state_id: str) -> sfn.Fail:
    """Terminal Fail that re-raises the error a Catch stored at `$.error` (after compensation)."""
    return sfn.Fail(ctx.scope, state_id, error_path="$.error.Error", cause_path="$.error.Cause")


def dry_run_exit(ctx: WaveContext, checked: str) -> sfn.Chain:
    """A Choice that ends a dry run here (`dry_run: true` in the input) with nothing changed.

    Every wave kind places it after its read-only checks and before its first approval or side
    effect; a stack test holds every wave to it.
    """
    passed = step_note(ctx, f"{checked[:1].upper()}{checked[1:]} passed")
    choice = sfn.Choice(ctx.scope, DRY_RUN_CHOICE, comment="dry_run: true stops before any change")
    choice.when(
        sfn.Condition.boolean_equals(f"{contracts.REQUEST_PATH}.dry_run", True),
        sfn.Succeed(ctx.scope, "Dry run: nothing changed", comment=f"{checked} passed; nothing was changed"),
    )
    passed.next(choice)
    after = choice.afterwards(include_otherwise=True)  # the next state becomes the Choice's Default
    return sfn.Chain.custom(passed, after.end_states, choice)


def preflight_step(ctx: WaveContext, function: TaskFunction) -> sfn.TaskStateBase:
    """A wave's read-only preflight: every problem at once, nothing changed; any failure ends the wave."""
    step = ctx.invoke(
        "Preflight",
        function,
        {"execution.$": "$$.Execution.Id"},
        result_path="$.preflight",
        comment="every problem at once; nothing is changed",
    )
    step.add_catch(
        fail_with_caught_error(ctx, "Preflight failed"), errors=[sfn.Errors.ALL], result_path="$.error"
    )
    return step


def compensated_step(
    ctx: WaveContext,
    state_id: str,
    function: TaskFunction,
    payload: dict,
    *,
    on_failure: sfn.IChainable,
    result_path: str,
    comment: str | None = None,
) -> sfn.TaskStateBase:
    """A task of the wave's body (given the execution id) whose any failure goes to `on_failure`."""
    step = ctx.invoke(
        state_id,
        function,
        {"execution.$": "$$.Execution.Id", **payload},
        result_path=result_path,
        comment=comment,
    )
    step.add_catch(on_failure, errors=[sfn.Errors.ALL], result_path="$.error")
    return step
