"""Workflow body of the `decommission` wave kind.

    Inventory ─► Prove no use ─► [dry run ends here] ─► Retain (rounds, capped backoff) ─► Verify
    retention ─► Summarise ─► Approval: decommission (four eyes) ─► Disable (previous state kept)
    ─► Cool-off: look for `wavectl abort` ─► Wait ─► look again ... ─(aborted)─► Restore ─► Fail
                                           └─(over)─► Summarise ─► Approval: delete ─► Delete (rounds)
    ─► Record evidence (counts at $.decommission.counts)

Inventory and usage proof touch nothing: their failure (Wavectl.PreflightFailed naming the resource,
its metric, value and last non-zero time) fails the wave at once. Every later failure, rejection or
approval timeout is caught into `$.error`, compensated (every disabled resource restored to its
recorded state) and re-raised by the final Fail. The scope travels in the task functions'
environment (`WAVECTL_DECOMMISSION_SPEC`), so the definition does not grow with the estate.
"""

from __future__ import annotations

from aws_cdk import Aws, Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn

from stacks.constructs.nag import acknowledge
from stacks.constructs.task_function import TaskFunction
from stacks.workflows.approval_gate import approval_gate
from stacks.workflows.context import WaveContext
from stacks.workflows.frame import dry_run_exit, fail_with_caught_error, step_note
from tasks import contracts
from wavectl.kinds.decommission import DecommissionWave, retention_role_arn, task_spec
from wavectl.model import format_duration

HANDLERS = "tasks.decommission.handler"
MAX_SPEC_CHARS = 3000  # Lambda allows 4 KB of environment per function; the rest is wavectl's own
ERROR_PATH = "$.error"
EXECUTION = "$$.Execution.Name"
DONE = "done"
# task -> (handler, description, timeout seconds, reaches the source/retention accounts)
TASKS: dict[str, tuple[str, str, int, bool]] = {
    "inventory": (
        "take_inventory",
        "inventory of the scope (tag/ARNs, all regions), protected check",
        300,
        True,
    ),
    "usage": ("prove_unused", "CloudWatch usage proof over the lookback for every resource", 300, True),
    "retain": ("retain", "one round of retention copies (final snapshots, Object Lock S3 copies)", 900, True),
    "verify": ("verify_retention", "verify every retention copy (counts, sizes, checksums, keys)", 900, True),
    "summarise": ("summarise", "the approvers' message for a gate", 30, False),
    "disable": ("disable_resources", "disable every approved resource, previous state recorded", 300, True),
    "cool-off": ("check_abort", "look for `wavectl abort` during the cool-off", 30, False),
    "restore": ("restore_resources", "restore every disabled resource (abort)", 300, True),
    "delete": ("delete_approved", "one round of deleting the approved inventory", 900, True),
    "compensate": ("compensate", "restore every disabled resource after a failure", 600, True),
    "evidence": ("record_evidence", "write the wave's evidence record and counts", 60, False),
}
RECORDS_DISABLE = ("disable", "restore", "compensate")  # read back the write-once disable records


def spec_environment(ctx: WaveContext, wave: DecommissionWave) -> dict[str, str]:
    encoded = contracts.encode_spec(task_spec(ctx.program, wave))
    if len(encoded) > MAX_SPEC_CHARS:
        raise ValueError(
            f"wave {wave.wave}: the decommission section needs {len(encoded)} characters of Lambda "
            f"environment (at most {MAX_SPEC_CHARS}); scope by tag instead of listing ARNs, or split the wave"
        )
    return {contracts.ENV_DECOMMISSION_SPEC: encoded}


def build(ctx: WaveContext) -> sfn.IChainable:
    wave = ctx.wave
    assert isinstance(wave, DecommissionWave)
    fn = _functions(ctx, wave)
    compensate = _compensation(ctx, fn)
    inventory = _read_only(ctx, "Inventory", fn["inventory"], "$.inventory", "Inventory failed")
    usage = _read_only(
        ctx, "Prove no use", fn["usage"], "$.usage", "Usage proof failed", inventory="$.inventory"
    )
    verify = _step(
        ctx,
        "Verify retention copies",
        fn["verify"],
        "$.retention_verified",
        compensate,
        retention="$.retention",
    )
    retain = _rounds(
        ctx, "Retain", fn["retain"], "$.retention", "retention", compensate, verify, inventory="$.inventory"
    )
    gate = approval_gate(ctx, "decommission", summary_path="$.summary.text", on_failure=compensate)
    disable = _step(ctx, "Disable", fn["disable"], "$.disabled", compensate, inventory="$.inventory")
    final_gate = approval_gate(ctx, "delete", summary_path="$.summary.text", on_failure=compensate)
    record = _record_evidence(ctx, fn["evidence"])
    delete = _rounds(
        ctx,
        "Delete approved",
        fn["delete"],
        "$.deletion",
        "deletion",
        compensate,
        step_note(ctx, "Approved resources deleted").next(record),
        inventory="$.inventory",
    )
    sfn.Chain.start(inventory).next(usage).next(dry_run_exit(ctx, "inventory and usage proof")).next(retain)
    verify.next(step_note(ctx, "Retention copies made and verified")).next(
        _summary(ctx, fn["summarise"], "decommission", wave)
    ).next(gate).next(disable)
    disable.next(step_note(ctx, "Resources disabled, previous state kept")).next(
        _cool_off(ctx, wave, fn, compensate, final_gate)
    )
    final_gate.next(delete)
    return sfn.Chain.custom(inventory, [record], record)


# ----------------------------------------------------------------------------- functions


def _functions(ctx: WaveContext, wave: DecommissionWave) -> dict[str, TaskFunction]:
    spec = spec_environment(ctx, wave)
    functions = {}
    for task, (handler, description, timeout, reaches_accounts) in TASKS.items():
        environment = dict(spec)
        if task == "cool-off":
            environment[contracts.ENV_APPROVALS_TABLE] = ctx.control.approvals_table.table_name
        function = ctx.task_function(
            f"decom-{task}",
            f"{HANDLERS}.{handler}",
            description=f"{wave.wave}: {description}",
            timeout=Duration.seconds(timeout),
            environment=environment,
        )
        if reaches_accounts:
            _assume_roles(ctx, wave, function)
        if task not in ("summarise", "cool-off"):
            ctx.grant_evidence_write(function)
        if task in RECORDS_DISABLE:
            _grant_evidence_read(ctx, function)
        functions[task] = function
    _grant_abort_read(ctx, functions["cool-off"])
    return functions


def _assume_roles(ctx: WaveContext, wave: DecommissionWave, function: TaskFunction) -> None:
    """The source role, and each retention account's role (named resources only)."""
    ctx.assume_workload_roles(function)
    extra = sorted(
        {retention_role_arn(ctx.program, r) for r in wave.decommission.retention.values() if r.retain}
        - {ctx.program.accounts.target.role_arn(), ctx.program.accounts.source.role_arn()}
    )
    if extra:
        ctx.assume_roles(function, extra)


def _grant_evidence_read(ctx: WaveContext, function: TaskFunction) -> None:
    from stacks.control_plane import evidence_bucket_name  # control_plane imports the workflows

    objects = f"{evidence_bucket_name(ctx.runbook)}/waves/{ctx.wave.wave}/*"
    function.role.add_to_policy(
        iam.PolicyStatement(
            sid="ReadDisableRecords",
            actions=["s3:GetObject"],
            resources=[f"arn:{Aws.PARTITION}:s3:::{objects}"],
        )
    )
    function.role.add_to_policy(
        iam.PolicyStatement(
            sid="DecryptDisableRecords", actions=["kms:Decrypt"], resources=[ctx.control.key.key_arn]
        )
    )
    acknowledge(
        function.role,
        f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::{objects}]",
        "GetObject only, under this wave's prefix: the write-once disable records (previous states) are read "
        "back so a retried task restores the state before its first attempt.",
    )


def _grant_abort_read(ctx: WaveContext, function: TaskFunction) -> None:
    function.role.add_to_policy(
        iam.PolicyStatement(
            sid="ReadAbortSignal",
            actions=["dynamodb:GetItem"],
            resources=[ctx.control.approvals_table.table_arn],
        )
    )
    function.role.add_to_policy(
        iam.PolicyStatement(
            sid="DecryptAbortSignal", actions=["kms:Decrypt"], resources=[ctx.control.key.key_arn]
        )
    )


# ----------------------------------------------------------------------------- states


def _payload(**paths: str) -> dict[str, str]:
    return {"execution.$": EXECUTION, **{f"{k}.$": v for k, v in paths.items()}}


def _read_only(
    ctx: WaveContext, state_id: str, function: TaskFunction, result_path: str, fail_id: str, **paths: str
) -> sfn.TaskStateBase:
    step = ctx.invoke(
        state_id,
        function,
        _payload(**paths),
        result_path=result_path,
        comment="read-only: its failure changes nothing (Wavectl.PreflightFailed names why)",
    )
    step.add_catch(fail_with_caught_error(ctx, fail_id), errors=[sfn.Errors.ALL], result_path=ERROR_PATH)
    return step


def _step(
    ctx: WaveContext,
    state_id: str,
    function: TaskFunction,
    result_path: str,
    compensate: sfn.IChainable,
    **paths: str,
) -> sfn.TaskStateBase:
    step = ctx.invoke(state_id, function, _payload(**paths), result_path=result_path)
    step.add_catch(compensate, errors=[sfn.Errors.ALL], result_path=ERROR_PATH)
    return step


def _rounds(
    ctx: WaveContext,
    label: str,
    function: TaskFunction,
    result_path: str,
    key: str,
    compensate: sfn.IChainable,
    then: sfn.IChainable,
    **paths: str,
) -> sfn.TaskStateBase:
    """`<label>` ─► `<label>: done?` ─(no)─► Wait (the task's wait_seconds) ─► `<label> again` ─┐ (loop)."""
    first = _step(ctx, label, function, result_path, compensate, **paths)
    again = _step(ctx, f"{label} again", function, result_path, compensate, **paths, **{key: result_path})
    done = sfn.Choice(ctx.scope, f"{label}: done?")
    wait = sfn.Wait(
        ctx.scope,
        f"{label}: wait",
        time=sfn.WaitTime.seconds_path(f"{result_path}.wait_seconds"),
        comment="capped backoff computed by the task (the db wave's)",
    )
    done.when(sfn.Condition.string_equals(f"{result_path}.status", DONE), then).otherwise(wait)
    first.next(done)
    wait.next(again).next(done)
    return first


def _summary(
    ctx: WaveContext, function: TaskFunction, gate: str, wave: DecommissionWave
) -> sfn.TaskStateBase:
    wave_ref = {
        "name": wave.wave,
        "version": wave.version,
        "source_account": ctx.program.accounts.source.id,
        "cool_off": format_duration(wave.decommission.cool_off),
    }
    payload = {
        "gate": gate,
        "wave": wave_ref,
        "inventory.$": "$.inventory",
        "usage.$": "$.usage",
        "retention_verified.$": "$.retention_verified",
    }
    if gate == "delete":
        payload["disabled.$"] = "$.disabled"
    return ctx.invoke(f"Summarise for {gate}", function, payload, result_path="$.summary")


def _cool_off(
    ctx: WaveContext,
    wave: DecommissionWave,
    fn: dict[str, TaskFunction],
    compensate: sfn.IChainable,
    final_gate: sfn.IChainable,
) -> sfn.TaskStateBase:
    """Look for an abort, wait a step, look again, until the cool-off is spent (or aborted: restore, fail)."""
    payload = {"execution.$": EXECUTION, "execution_arn.$": "$$.Execution.Id"}
    start = ctx.invoke(
        "Cool-off: start",
        fn["cool-off"],
        payload,
        result_path="$.cool_off",
        comment=f"{format_duration(wave.decommission.cool_off)}; `wavectl abort {wave.wave}` "
        "restores everything",
    )
    look = ctx.invoke(
        "Cool-off: look for abort",
        fn["cool-off"],
        {**payload, "cool_off.$": "$.cool_off"},
        result_path="$.cool_off",
    )
    for step in (start, look):
        step.add_catch(compensate, errors=[sfn.Errors.ALL], result_path=ERROR_PATH)
    restore = ctx.invoke(
        "Restore after abort",
        fn["restore"],
        _payload(disabled="$.disabled", cool_off="$.cool_off"),
        result_path="$.restored",
        comment="restores every disabled resource, then fails Wavectl.Aborted",
    )
    restore.add_catch(
        fail_with_caught_error(ctx, "Wave aborted"), errors=[sfn.Errors.ALL], result_path=ERROR_PATH
    )
    wait = sfn.Wait(ctx.scope, "Cool-off: wait", time=sfn.WaitTime.seconds_path("$.cool_off.wait_seconds"))
    choice = sfn.Choice(ctx.scope, "Cool-off: aborted or over?")
    choice.when(sfn.Condition.boolean_equals("$.cool_off.aborted", True), restore)
    choice.when(
        sfn.Condition.boolean_equals("$.cool_off.finished", True),
        _summary(ctx, fn["summarise"], "delete", wave).next(final_gate),
    )
    choice.otherwise(wait)
    wait.next(look).next(choice)
    start.next(choice)
    return start


def _record_evidence(ctx: WaveContext, function: TaskFunction) -> sfn.TaskStateBase:
    payload = _payload(
        request=contracts.REQUEST_PATH,
        inventory="$.inventory",
        retention_verified="$.retention_verified",
        disabled="$.disabled",
        deletion="$.deletion",
    )
    return ctx.invoke(
        "Record evidence",
        function,
        payload,
        result_path=f"$.{contracts.DECOMMISSION_OUTPUT_KEY}",
        comment="counts for status.json: in scope, retained, disabled, deleted, left",
    )


def _compensation(ctx: WaveContext, fn: dict[str, TaskFunction]) -> sfn.IChainable:
    """Restore every disabled resource (none before the decommission gate), then fail with the error.

    The task gets the whole state: what was disabled, deleted or copied so far depends on where it failed."""
    fail = fail_with_caught_error(ctx, "Wave failed")
    compensate = ctx.invoke(
        "Compensate",
        fn["compensate"],
        {"execution.$": EXECUTION, "state.$": "$"},
        result_path="$.compensation",
        comment="restore what was disabled to its recorded state; nothing is deleted before the delete gate",
    )
    compensate.add_catch(fail, errors=[sfn.Errors.ALL], result_path="$.compensation_error")
    cause = sfn.Pass(
        ctx.scope,
        "Say what was restored",
        parameters={"Error.$": "$.error.Error", "Cause.$": "$.compensation.cause"},
        result_path=ERROR_PATH,
    )
    return compensate.next(cause).next(fail)
