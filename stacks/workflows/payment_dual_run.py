"""Workflow body of the `payment-dual-run` wave kind.

    Preflight ─► Dry run? ─► Approval: start-dual-run ─► Switch bridge on ─► Start at the first cycle
    ┌► Wait for the day's files ─(States.Timeout)─► Name the missing files (FilesMissing) ─┐
    │          └─(both files' S3 events)─► Reconcile the day ◄──(both there at the deadline)┘
    │        Clean? ─(no)─► Approval: accept-breaks-<n> ─┐
    │          └─(yes)─► No exceptions ──────────────────┴─► Record the cycle
    │   What next? ─(cycle)─┘   ─(switch)─► Approval: switch-primary ─► Set primary to new ─► Shadow days?
    └────────────────────────────────────────────────────────────────────────────(yes)─────────┘
    ─(done)─► Record evidence

Preflight changes nothing, so its failure (or a rejection of start-dual-run) fails the wave at once.
Anything later (a rejection, FilesMissing, a task failure) is caught into `$.error` and goes through
`Roll back`: the primary flag back to `old` if it was switched, the bridge off if the runbook says so,
then the final Fail re-raises the error with a cause saying what was done. The cycle loop walks
`$.loop.cycle` (tasks.payment_dual_run.cycles), so the definition is the same size for any max_cycles.

The wait for a day's files is a callback (tasks.payment_dual_run.waits): the task token is kept in the
approvals table, and an EventBridge rule on the S3 "Object Created" events of the two keys invokes the
arrival function, which resumes the wait once both files are there. The old platform's bucket is in
the source account: its events reach this account's default bus through a rule there (the contract in
docs/waves/payment-dual-run.md), allowed by this stack's event bus policy.
"""

from __future__ import annotations

from aws_cdk import Aws, Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as events_targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn

from stacks.constructs.nag import acknowledge
from stacks.constructs.slack_token import grant_slack_bot_token
from stacks.constructs.task_function import TaskFunction
from stacks.workflows.approval_gate import approval_gate
from stacks.workflows.context import WaveContext
from stacks.workflows.frame import (
    compensated_step,
    dry_run_exit,
    fail_with_caught_error,
    preflight_step,
    step_note,
)
from stacks.workflows.payment_dual_run_scale import grant_partitioned_path, partitioned_path, work_buckets
from tasks import contracts
from wavectl.kinds.payment_dual_run import PaymentDualRunWave, encoded_task_spec

HANDLERS = "tasks.payment_dual_run.handler"
# /tmp of the functions that hold a day's files or their partitions (MB; Lambda's default is 512)
EPHEMERAL_MB = {"reconcile": 4096, "partition": 10240, "merge": 2048}
FILE_WAITS = ("wait_files", "arrival")  # the tasks that keep and resume a cycle's file wait
SUMMARY_POSTERS = ("reconcile", "merge")  # post a day's summary.txt in the execution's Slack thread
WORK = ("partition", "reconcile_partition", "merge")  # use the wave's work bucket
ERROR_PATH = "$.error"
EXECUTION = "$$.Execution.Id"
LOOP = "$.loop"
# task -> (description, timeout seconds, memory MB)
TASKS: dict[str, tuple[str, int, int]] = {
    "preflight": ("read-only checks: bridge off, buckets, connector, primary flag old", 120, 256),
    "bridge_on": ("switch the payment bridge on (enable its inbound rule)", 30, 256),
    "wait_files": (
        "keep a cycle's file wait (task token) server-side, look for files already there",
        30,
        256,
    ),
    "arrival": ("S3 events of a day's files: resume the cycle's wait once both are there", 30, 256),
    "check": ("the file wait timed out: name the missing settlement or acknowledgement file", 30, 256),
    "plan": ("size a business day's files: one function or hash partitions", 30, 256),
    "reconcile": ("reconcile one business day (DuckDB), outputs to evidence, summary to Slack", 900, 4096),
    "partition": ("split a business day's two files by a hash of the key into the work bucket", 900, 4096),
    "reconcile_partition": (
        "reconcile one hash partition of a business day (Distributed Map item)",
        900,
        2048,
    ),
    "merge": ("merge the partitions' outputs into the day's outputs, evidence, summary to Slack", 900, 2048),
    "advance": ("record the cycle, compute the next one", 60, 256),
    "switch_primary": ("set the primary flag to new", 30, 256),
    "rollback": ("primary flag back to old, bridge off if the runbook says so, Slack, evidence", 60, 256),
    "record_evidence": ("write the dual run's evidence record with every cycle", 60, 256),
}


def build(ctx: WaveContext) -> sfn.IChainable:
    wave = ctx.wave
    assert isinstance(wave, PaymentDualRunWave)
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
    start = approval_gate(
        ctx,
        "start-dual-run",
        summary_path="$.preflight.summary",
        on_failure=fail_with_caught_error(ctx, "Dual run not started"),
    )
    bridge_on = task("Switch bridge on", "bridge_on", {}, "$.bridge", "events:EnableRule on the inbound rule")
    first = sfn.Pass(
        ctx.scope,
        "Start at the first cycle",
        parameters={"cycle.$": "$.preflight.first", "history": []},
        result_path=LOOP,
    )
    evidence = ctx.invoke(
        "Record evidence",
        functions["record_evidence"],
        {"execution.$": EXECUTION, "request.$": contracts.REQUEST_PATH, "history.$": f"{LOOP}.history"},
        result_path="$.outcome",
    )
    files = _cycle_loop(ctx, wave, functions, task, rollback, evidence)
    sfn.Chain.start(preflight).next(dry_run_exit(ctx, "preflight")).next(start).next(bridge_on).next(
        step_note(ctx, "Payment bridge switched on")
    ).next(first).next(files)
    return sfn.Chain.custom(preflight, [evidence], evidence)


def _cycle_loop(
    ctx: WaveContext, wave: PaymentDualRunWave, functions, task, rollback, evidence
) -> sfn.IChainable:
    wait = ctx.invoke(
        "Wait for the day's files",
        functions["wait_files"],
        {"execution.$": EXECUTION, "task_token": sfn.JsonPath.task_token, "cycle.$": f"{LOOP}.cycle"},
        result_path=f"{LOOP}.cycle.files",
        comment="callback: the token is kept in the approvals table; the S3 events of both files resume it",
        wait_for_token=Duration.seconds(wave.payments.file_deadline),
    )
    missing = task(
        "Name the missing files",
        "check",
        {"cycle.$": f"{LOOP}.cycle"},
        f"{LOOP}.cycle.files",
        "the deadline passed: Wavectl.FilesMissing naming each file still missing",
    )
    wait.add_catch(missing, errors=[sfn.Errors.TIMEOUT], result_path=ERROR_PATH)
    wait.add_catch(rollback, errors=[sfn.Errors.ALL], result_path=ERROR_PATH)
    reconcile = task(
        "Reconcile the day",
        "reconcile",
        {"cycle.$": f"{LOOP}.cycle"},
        "$.result",
        "old settled payments against the acknowledgements; outputs in evidence; summary.txt to Slack",
    )
    clean = sfn.Choice(ctx.scope, "Clean?")
    no_exceptions = sfn.Pass(
        ctx.scope,
        "No exceptions",
        result=sfn.Result.from_object({"decision": "clean"}),
        result_path="$.approval",
    )
    advance = task(
        "Record the cycle",
        "advance",
        {
            "cycle.$": f"{LOOP}.cycle",
            "result.$": "$.result",
            "history.$": f"{LOOP}.history",
            "approval.$": "$.approval",
        },
        LOOP,
        "the cycle's evidence (approvers of accepted breaks), then the next cycle; "
        "Wavectl.ReconciliationFailed after max_cycles without the clean streak",
    )
    accept = approval_gate(
        ctx,
        "accept-breaks",
        gate_path=f"{LOOP}.cycle.gate",
        summary_path="$.result.gate_summary",
        on_failure=_breaks_rejected(ctx, rollback),
    )
    after = sfn.Choice(ctx.scope, "What next?")
    switch_gate = approval_gate(
        ctx,
        "switch-primary",
        summary=_switch_summary(wave),
        on_failure=rollback,
    )
    switch = task(
        "Set primary to new", "switch_primary", {}, "$.switch", "ssm:PutParameter primary_flag = new"
    )
    shadow = sfn.Choice(ctx.scope, "Shadow days?")

    size = partitioned_path(ctx, functions, task, LOOP, rollback, reconcile, clean)
    wait.next(size)
    missing.next(size)
    reconcile.next(clean)
    clean.when(sfn.Condition.boolean_equals("$.result.clean", True), no_exceptions)
    clean.otherwise(accept)
    no_exceptions.next(advance)
    accept.next(advance)
    advance.next(after)
    after.when(sfn.Condition.string_equals(f"{LOOP}.cycle.next", "switch"), switch_gate)
    after.when(sfn.Condition.string_equals(f"{LOOP}.cycle.next", "done"), evidence)
    after.otherwise(wait)
    switch_gate.next(switch).next(step_note(ctx, "Primary flag set to new")).next(shadow)
    shadow.when(sfn.Condition.boolean_equals(f"{LOOP}.cycle.shadow_left", True), wait)
    shadow.otherwise(evidence)
    return wait


def _switch_summary(wave: PaymentDualRunWave) -> str:
    p = wave.payments
    shadow = (
        f"then {p.shadow_cycles} shadow day(s) reconcile the old platform against the new one; a failure "
        "there sets the flag back to old."
        if p.shadow_cycles
        else "no shadow days follow."
    )
    return (
        f"{p.required_clean_cycles} business day(s) in a row reconciled clean. Approve to switch "
        f"{p.primary_flag} from old to new (the new owner becomes the system of record for payments); "
        f"{shadow} Reject to stop the dual run with the old platform primary."
    )


def _breaks_rejected(ctx: WaveContext, rollback: sfn.IChainable) -> sfn.IChainable:
    """A rejection of accept-breaks is Wavectl.ReconciliationFailed; a timeout or other error stays."""
    rejected = sfn.Choice(ctx.scope, "Breaks rejected?")
    failed = sfn.Pass(
        ctx.scope,
        "Reconciliation failed",
        parameters={
            "Error": contracts.ErrorName.RECONCILIATION_FAILED.value,
            "Cause.$": "States.Format('breaks of business day {} (cycle {}) rejected at gate {}', "
            f"{LOOP}.cycle.day, {LOOP}.cycle.index, {LOOP}.cycle.gate)",
        },
        result_path=ERROR_PATH,
    )
    rejected.when(
        sfn.Condition.string_equals(f"{ERROR_PATH}.Error", contracts.ErrorName.REJECTED.value), failed
    )
    rejected.otherwise(rollback)
    failed.next(rollback)
    return rejected


def _rollback(ctx: WaveContext, function: TaskFunction) -> sfn.IChainable:
    """Roll back (idempotent), then fail with the caught error and a cause saying what was done."""
    fail = fail_with_caught_error(ctx, "Wave failed")
    plain_fail = fail_with_caught_error(ctx, "Wave failed (rollback failed)")
    step = ctx.invoke(
        "Roll back",
        function,
        {"execution.$": EXECUTION, "error.$": ERROR_PATH, "history.$": f"{LOOP}.history"},
        result_path=ERROR_PATH,
        comment="flag back to old if switched; bridge off only if the runbook says so; Slack; evidence",
    )
    step.add_retry(errors=[sfn.Errors.ALL], interval=Duration.seconds(10), max_attempts=3, backoff_rate=2)
    step.add_catch(plain_fail, errors=[sfn.Errors.ALL], result_path="$.rollback_error")
    return step.next(fail)


# ----------------------------------------------------------------------------- functions and IAM


def _functions(ctx: WaveContext, wave: PaymentDualRunWave) -> dict[str, TaskFunction]:
    spec = {contracts.ENV_DUAL_RUN_SPEC: encoded_task_spec(wave, ctx.program)}
    slack = {
        contracts.ENV_SLACK_CHANNEL: ctx.program.slack.channel,
        contracts.ENV_SLACK_BOT_TOKEN_SECRET: ctx.program.slack.bot_token,
    }
    functions = {}
    table = {contracts.ENV_APPROVALS_TABLE: ctx.control.approvals_table.table_name}
    work = work_buckets(ctx)
    work_env = {contracts.ENV_DUAL_RUN_WORK_BUCKET: work.bucket_name}
    for name, (description, timeout, memory) in TASKS.items():
        posts = name in ("reconcile", "merge", "switch_primary", "rollback")
        environment = {**spec, **(slack if posts else {})}
        environment.update(table if name in FILE_WAITS + SUMMARY_POSTERS else {})
        environment.update(work_env if name in WORK else {})
        functions[name] = ctx.task_function(
            f"dual-run-{name.replace('_', '-')}",
            f"{HANDLERS}.{name}",
            description=f"{wave.wave}: {description}",
            timeout=Duration.seconds(timeout),
            memory_mb=memory,
            environment=environment,
        )
        if name in EPHEMERAL_MB:
            cfn: lambda_.CfnFunction = functions[name].function.node.default_child  # type: ignore[assignment]
            cfn.ephemeral_storage = lambda_.CfnFunction.EphemeralStorageProperty(size=EPHEMERAL_MB[name])
        if posts:
            grant_slack_bot_token(functions[name], ctx.program.slack.bot_token, ctx.control.key)
    _grant(ctx, wave, functions, work)
    _grant_file_waits(ctx, functions)
    _grant_thread(ctx, functions)
    _arrival_rule(ctx, wave, functions["arrival"])
    return functions


def _grant_thread(ctx: WaveContext, functions: dict[str, TaskFunction]) -> None:
    """Find the execution's Slack thread (tasks.approvals.store.thread_of): read its gate records only."""
    leading = {
        "ForAllValues:StringLike": {
            "dynamodb:LeadingKeys": [f"{contracts.EXECUTION_PK_PREFIX}*", f"{contracts.APPROVAL_PK_PREFIX}*"]
        }
    }
    for name in SUMMARY_POSTERS:
        role = functions[name].role
        role.add_to_policy(
            iam.PolicyStatement(
                sid="FindExecutionThread",
                actions=["dynamodb:Query", "dynamodb:GetItem"],
                resources=[ctx.control.approvals_table.table_arn],
                conditions=leading,
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="DecryptApprovalRecords", actions=["kms:Decrypt"], resources=[ctx.control.key.key_arn]
            )
        )


def _grant_file_waits(ctx: WaveContext, functions: dict[str, TaskFunction]) -> None:
    """wait_files writes a cycle's wait (token) and its index records, arrival reads and updates them;
    both only on items whose partition key is a file wait's, and both may resume only this workflow."""
    table = ctx.control.approvals_table.table_arn
    leading = {
        "ForAllValues:StringLike": {
            "dynamodb:LeadingKeys": [
                f"{contracts.FILE_WAIT_PK_PREFIX}*",
                f"{contracts.FILE_INDEX_PK_PREFIX}*",
            ]
        }
    }
    actions = {
        "wait_files": ["dynamodb:PutItem", "dynamodb:UpdateItem"],
        "arrival": ["dynamodb:Query", "dynamodb:UpdateItem"],
    }
    state_machine = _arn("states", f"stateMachine:{ctx.runbook.state_machine_name(ctx.wave.wave)}")
    for name in FILE_WAITS:
        role = functions[name].role
        role.add_to_policy(
            iam.PolicyStatement(
                sid="FileWaitRecords", actions=actions[name], resources=[table], conditions=leading
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="FileWaitRecordsEncryption",
                actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
                resources=[ctx.control.key.key_arn],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ResumeFileWait", actions=["states:SendTaskSuccess"], resources=[state_machine]
            )
        )


def _arrival_rule(ctx: WaveContext, wave: PaymentDualRunWave, arrival: TaskFunction) -> None:
    """The S3 "Object Created" events of the day's two files invoke the arrival function. The acknowledgement
    bucket (this account) sends its events here; the old platform's (source account) forwards them."""
    p, program = wave.payments, ctx.program
    assert program.payment_bridge is not None
    prefixes = [p.old_key.split("{date}", 1)[0], p.ack_key.split("{date}", 1)[0]]
    rule = events.Rule(
        ctx.scope,
        "FileArrivals",
        rule_name=f"{program.program}-{wave.wave}-files"[:64],
        description=f"{wave.wave}: a business day's settlement or acknowledgement file arrived",
        event_pattern=events.EventPattern(
            source=["aws.s3"],
            detail_type=["Object Created"],
            detail={
                "bucket": {"name": [p.old_bucket, program.payment_bridge.buckets.acknowledgements.name]},
                "object": {"key": [{"prefix": prefix} for prefix in dict.fromkeys(prefixes)]},
            },
        ),
    )
    rule.add_target(events_targets.LambdaFunction(arrival.function, retry_attempts=8))
    events.CfnEventBusPolicy(
        ctx.scope,
        "SourceAccountFileEvents",
        statement_id=f"{wave.wave}-source-file-events"[:64],
        event_bus_name="default",
        statement={
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:{Aws.PARTITION}:iam::{program.accounts.source.id}:root"},
            "Action": "events:PutEvents",
            "Resource": f"arn:{Aws.PARTITION}:events:{Aws.REGION}:{Aws.ACCOUNT_ID}:event-bus/default",
            "Condition": {"StringEquals": {"events:source": "aws.s3"}},
        },
    )


def _arn(service: str, resource: str, region: str | None = None) -> str:
    account = "" if service == "s3" else Aws.ACCOUNT_ID
    where = "" if service == "s3" else (region or Aws.REGION)
    return f"arn:{Aws.PARTITION}:{service}:{where}:{account}:{resource}"


def _grant(
    ctx: WaveContext, wave: PaymentDualRunWave, functions: dict[str, TaskFunction], work: s3.Bucket
) -> None:
    p, program = wave.payments, ctx.program
    bridge = program.payment_bridge
    assert bridge is not None
    rule = _arn(
        "events", f"rule/{contracts.bridge_resource_name(program.program, contracts.BRIDGE_INBOUND_RULE)}"
    )
    flag = _arn("ssm", f"parameter/{p.primary_flag.lstrip('/')}")
    transfer_function = _arn(
        "lambda", f"function:{program.program}-{contracts.BRIDGE_TRANSFER_TASK}"[: len("function:") + 64]
    )
    buckets = [_arn("s3", getattr(bridge.buckets, r).name) for r in ("inbound", "outbound", "quarantine")]
    acks = bridge.buckets.acknowledgements.name
    ack_prefix = p.ack_key.split("{date}", 1)[0]
    ack_objects = _arn("s3", f"{acks}/{ack_prefix}*")

    def allow(name: str, sid: str, actions: list[str], resources: list[str]) -> None:
        functions[name].role.add_to_policy(iam.PolicyStatement(sid=sid, actions=actions, resources=resources))

    for name in ("preflight", "wait_files", "check", "reconcile"):
        ctx.assume_workload_roles(functions[name])  # the old platform's bucket is in the source account
    allow("preflight", "BridgeSwitchState", ["events:DescribeRule"], [rule])
    allow("preflight", "BridgeBuckets", ["s3:ListBucket"], [*buckets, _arn("s3", acks)])
    allow("preflight", "BridgeTransferFunction", ["lambda:GetFunctionConfiguration"], [transfer_function])
    allow("preflight", "BridgeConnector", ["transfer:DescribeConnector"], [_arn("transfer", "connector/*")])
    allow("preflight", "ReadPrimaryFlag", ["ssm:GetParameter"], [flag])
    allow("bridge_on", "SwitchBridgeOn", ["events:EnableRule", "events:DescribeRule"], [rule])
    for name in ("wait_files", "check"):
        allow(name, "LookForAcknowledgements", ["s3:GetObject"], [ack_objects])
        allow(name, "AcknowledgementsMissingAs404", ["s3:ListBucket"], [_arn("s3", acks)])
    allow("reconcile", "ReadAcknowledgements", ["s3:GetObject"], [ack_objects])
    allow("reconcile", "DecryptAcknowledgements", ["kms:Decrypt"], [ctx.control.key.key_arn])
    allow("switch_primary", "SwitchPrimaryFlag", ["ssm:GetParameter", "ssm:PutParameter"], [flag])
    allow("rollback", "RestorePrimaryFlag", ["ssm:GetParameter", "ssm:PutParameter"], [flag])
    if p.switch_bridge_off_on_rollback:
        allow("rollback", "SwitchBridgeOff", ["events:DisableRule"], [rule])
    for name in ("reconcile", "advance", "rollback", "record_evidence"):
        ctx.grant_evidence_write(functions[name])
    grant_partitioned_path(ctx, functions, work, ack_objects, acks)
    acknowledge(
        functions["preflight"].role,
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:transfer:<AWS::Region>:<AWS::AccountId>:connector/*]",
        "transfer:DescribeConnector only (read); the connector id is made at deploy time by the bridge stack "
        "and read from its transfer function's configuration.",
    )
    for name in ("wait_files", "check", "reconcile"):
        acknowledge(
            functions[name].role,
            f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::{acks}/{ack_prefix}*]",
            "The daily acknowledgement files are named by business day at run time; read-only, limited "
            "to the runbook's acknowledgement prefix of the bridge's acknowledgement bucket.",
        )
