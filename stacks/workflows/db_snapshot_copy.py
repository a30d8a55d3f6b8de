"""Workflow body of the `db-snapshot-copy` wave kind.

    Preflight ──► Approval: start-copy ──► Map over the databases (MaxConcurrency from the runbook)
        │            per database: snapshot ─► copy under the shared key ─► share ─► copy into the
        │            target ─► restore ─► verify, each long step a Wait/Poll/Choice loop whose
        │            wait the poll computes ($.job.wait_seconds)
        ▼
    Approval: accept-restored-databases (verification summary) ──► Clean up ──► Record evidence

Preflight touches nothing, so its failure fails the wave at once. Any later failure, rejection or
approval timeout is caught into `$.error`, compensated (what this execution made is deleted, the
share removed), and re-raised by the final Fail. The databases are Map items produced by
preflight from the function's environment, so the definition does not grow with the wave.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_stepfunctions as sfn

from stacks.constructs.task_function import TaskFunction
from stacks.workflows.approval_gate import approval_gate
from stacks.workflows.context import WaveContext
from stacks.workflows.frame import dry_run_exit, fail_with_caught_error
from tasks import contracts
from tasks.contracts import CompensationStatus
from wavectl.kinds.db_snapshot_copy import DbSnapshotCopyWave

HANDLERS = "tasks.db_snapshot_copy.handler"
MAX_SPEC_CHARS = 3000  # Lambda allows 4 KB of environment per function; the rest is wavectl's own
ERROR_PATH = "$.error"
EXECUTION = "$$.Execution.Name"
# task -> (description, timeout seconds, reaches source/target accounts)
TASKS: dict[str, tuple[str, int, bool]] = {
    "preflight": ("read-only checks of every database, key, landing zone and residency rule", 300, True),
    "create_snapshot": ("snapshot the source database", 60, True),
    "copy_snapshot": ("copy the source snapshot under the shared key (cross-region here)", 60, True),
    "share": ("share the shared-key snapshot with the target account", 60, True),
    "copy_to_target": ("copy the shared snapshot under the target-owned key", 60, True),
    "restore": ("restore the target snapshot (Aurora: cluster and instances)", 120, True),
    "poll": ("describe one long operation and compute the next wait", 30, True),
    "verify": ("verify a restored database against its source and the runbook", 300, True),
    "cleanup": ("delete this execution's intermediate snapshots and the share", 300, True),
    "compensate": ("delete what this execution made, remove the share, record evidence", 600, True),
    "record_evidence": ("write the wave's evidence record", 60, False),
}


def spec_environment(wave: DbSnapshotCopyWave) -> dict[str, str]:
    """The wave's databases for preflight and compensation (compressed; not in the definition)."""
    databases = [db.model_dump(mode="json") for db in wave.databases]
    encoded = contracts.encode_spec({"databases": databases})
    if len(encoded) > MAX_SPEC_CHARS:
        raise ValueError(
            f"wave {wave.wave}: {len(wave.databases)} databases need {len(encoded)} characters of Lambda "
            f"environment (at most {MAX_SPEC_CHARS}); split the wave into smaller waves"
        )
    return {contracts.ENV_DB_WAVE_SPEC: encoded}


def build(ctx: WaveContext) -> sfn.IChainable:
    wave = ctx.wave
    assert isinstance(wave, DbSnapshotCopyWave)
    functions = _functions(ctx, wave)
    compensate = _compensation(ctx, functions)
    preflight = _preflight(ctx, wave, functions["preflight"])
    start = approval_gate(ctx, "start-copy", summary_path="$.start.text", on_failure=compensate)
    copies = _copy_each_database(ctx, wave, functions)
    copies.add_catch(compensate, errors=[sfn.Errors.ALL], result_path=ERROR_PATH)
    accept = approval_gate(
        ctx, "accept-restored-databases", summary_path="$.acceptance.text", on_failure=compensate
    )
    return (
        sfn.Chain.start(preflight)
        .next(dry_run_exit(ctx, "preflight"))
        .next(_start_summary(ctx, wave))
        .next(start)
        .next(copies)
        .next(_acceptance_summary(ctx))
        .next(accept)
        .next(_cleanup(ctx, functions["cleanup"]))
        .next(_record_evidence(ctx, functions["record_evidence"]))
    )


# ----------------------------------------------------------------------------- functions


def _functions(ctx: WaveContext, wave: DbSnapshotCopyWave) -> dict[str, TaskFunction]:
    spec = spec_environment(wave)
    functions = {}
    for task, (description, timeout, reaches_accounts) in TASKS.items():
        function = ctx.task_function(
            f"db-{task.replace('_', '-')}",
            f"{HANDLERS}.{task}",
            description=f"{wave.wave}: {description}",
            timeout=Duration.seconds(timeout),
            environment=spec if task in ("preflight", "compensate") else None,
        )
        if reaches_accounts:
            ctx.assume_workload_roles(function)
        functions[task] = function
    for task in ("compensate", "record_evidence"):
        ctx.grant_evidence_write(functions[task])
    return functions


# ----------------------------------------------------------------------------- states


def _preflight(ctx: WaveContext, wave: DbSnapshotCopyWave, function: TaskFunction) -> sfn.IChainable:
    classes = sorted({db.data_class for db in wave.databases})
    residency = {name: ctx.program.residency.get(name, []) for name in classes}
    step = ctx.invoke(
        "Preflight",
        function,
        {"execution.$": EXECUTION, "residency": residency},
        result_path="$.preflight",
        comment="every problem listed at once (Wavectl.PreflightFailed); nothing is touched",
    )
    step.add_catch(
        fail_with_caught_error(ctx, "Preflight failed"), errors=[sfn.Errors.ALL], result_path=ERROR_PATH
    )
    return step


def _start_summary(ctx: WaveContext, wave: DbSnapshotCopyWave) -> sfn.Pass:
    """What the start gate asks; the count comes from preflight so the definition stays constant."""
    accounts = ctx.program.accounts
    text = (
        f"Copy {{}} database(s) of wave {wave.wave} v{wave.version} from account {accounts.source.id} "
        f"into {accounts.target.id}, re-encrypted under target-owned keys. Preflight passed."
    )
    return sfn.Pass(
        ctx.scope,
        "Summarise start",
        parameters={"text.$": f"States.Format('{text}', $.preflight.count)"},
        result_path="$.start",
    )


def _copy_each_database(
    ctx: WaveContext, wave: DbSnapshotCopyWave, functions: dict[str, TaskFunction]
) -> sfn.Map:
    copies = sfn.Map(
        ctx.scope,
        "Copy each database",
        items_path="$.preflight.databases",
        max_concurrency=wave.max_concurrency,
        item_selector={"db.$": "$$.Map.Item.Value", "execution.$": EXECUTION},
        result_path="$.copies",
        comment="one iteration per database; the list comes from preflight, not the definition",
    )
    copies.item_processor(_per_database(ctx, functions))
    return copies


def _per_database(ctx: WaveContext, functions: dict[str, TaskFunction]) -> sfn.IChainable:
    item = {"execution.$": "$.execution", "db.$": "$.db"}

    def act(state_id: str, task: str, result_path: str = "$.job", **extra: str) -> sfn.TaskStateBase:
        return ctx.invoke(state_id, functions[task], {**item, **extra}, result_path=result_path)

    def until_ready(label: str) -> sfn.Choice:
        return _wait_loop(ctx, label, functions["poll"])

    snapshot = act("Snapshot source", "create_snapshot")
    copy = act("Copy under shared key", "copy_snapshot")
    share = act("Share with target account", "share", result_path="$.share")
    to_target = act("Copy into target account", "copy_to_target", **{"share.$": "$.share"})
    restore = act("Restore in target", "restore")
    verify = act("Verify restored database", "verify", result_path="$.verification")
    snapshot_done, copy_done = until_ready("source snapshot"), until_ready("shared copy")
    target_done, restore_done = until_ready("target copy"), until_ready("restore")
    snapshot.next(snapshot_done)
    snapshot_done.when(_ready(), copy)
    copy.next(copy_done)
    copy_done.when(_ready(), share)
    share.next(to_target).next(target_done)
    target_done.when(_ready(), restore)
    restore.next(restore_done)
    restore_done.when(_ready(), verify)
    return snapshot


def _ready() -> sfn.Condition:
    return sfn.Condition.boolean_equals("$.job.ready", True)


def _wait_loop(ctx: WaveContext, label: str, poll: TaskFunction) -> sfn.Choice:
    """`<label> ready?` -> (no) Wait $.job.wait_seconds -> Poll -> back to the Choice."""
    choice = sfn.Choice(ctx.scope, f"{label.capitalize()} ready?")
    wait = sfn.Wait(
        ctx.scope,
        f"Wait for {label}",
        time=sfn.WaitTime.seconds_path("$.job.wait_seconds"),
        comment="capped backoff computed by the poll from the database size",
    )
    check = ctx.invoke(
        f"Poll {label}", poll, {"execution.$": "$.execution", "job.$": "$.job"}, result_path="$.job"
    )
    choice.otherwise(wait)
    wait.next(check).next(choice)
    return choice


def _acceptance_summary(ctx: WaveContext) -> sfn.Pass:
    return sfn.Pass(
        ctx.scope,
        "Summarise verification",
        parameters={
            "text.$": "States.Format('{} database(s) restored into the target and verified: {}. Approve to "
            "delete the intermediate snapshots and the share; reject to delete the restored databases.', "
            "States.ArrayLength($.copies), States.JsonToString($.copies[*].verification.summary))"
        },
        result_path="$.acceptance",
    )


def _cleanup(ctx: WaveContext, function: TaskFunction) -> sfn.TaskStateBase:
    step = ctx.invoke(
        "Clean up",
        function,
        {"execution.$": EXECUTION, "databases.$": "$.preflight.databases"},
        result_path="$.cleanup",
        comment="after acceptance: intermediate snapshots and the share go; restored databases stay",
    )
    step.add_retry(errors=[sfn.Errors.ALL], interval=Duration.seconds(30), max_attempts=3, backoff_rate=2)
    step.add_catch(
        fail_with_caught_error(ctx, "Cleanup failed"), errors=[sfn.Errors.ALL], result_path=ERROR_PATH
    )
    return step


def _record_evidence(ctx: WaveContext, function: TaskFunction) -> sfn.TaskStateBase:
    return ctx.invoke(
        "Record evidence",
        function,
        {
            "execution.$": EXECUTION,
            "request.$": "$.request",
            "databases.$": "$.preflight.databases",
            "copies.$": "$.copies",
            "cleanup.$": "$.cleanup",
        },
        result_path="$.evidence",
    )


def _compensation(ctx: WaveContext, functions: dict[str, TaskFunction]) -> sfn.IChainable:
    """Compensate until nothing this execution made is left (bounded rounds), then fail with the error.

    Compensate ─► Compensation finished? ─(in-progress)─► Wait for deletions ─► Compensate again ─┐
                        ▲ └─(incomplete)─► Say what is left ─► Wave failed                        │
                        └──────────────────────────────────────────────────────────────────────────┘
    """
    fail = fail_with_caught_error(ctx, "Wave failed")
    payload = {"execution.$": EXECUTION, "error.$": ERROR_PATH, "request.$": "$.request"}
    first = ctx.invoke(
        "Compensate",
        functions["compensate"],
        payload,
        result_path="$.compensation",
        comment="delete only what this execution made (name + tag), unshare; reports what is still pending",
    )
    again = ctx.invoke(
        "Compensate again",
        functions["compensate"],
        {**payload, "previous.$": "$.compensation"},
        result_path="$.compensation",
        comment="next round: delete what RDS would not let go yet (creating, members still deleting)",
    )
    for step in (first, again):
        step.add_catch(fail, errors=[sfn.Errors.ALL], result_path="$.compensation_error")
    wait = sfn.Wait(
        ctx.scope,
        "Wait for deletions",
        time=sfn.WaitTime.seconds_path("$.compensation.wait_seconds"),
        comment="capped backoff between compensation rounds, computed by the compensate task",
    )
    say_what_is_left = sfn.Pass(
        ctx.scope,
        "Say what is left",
        parameters={"Error.$": "$.error.Error", "Cause.$": "$.compensation.cause"},
        result_path=ERROR_PATH,
        comment="the caught error, its cause extended with what compensation could not delete",
    )
    finished = sfn.Choice(ctx.scope, "Compensation finished?")
    finished.when(
        sfn.Condition.string_equals("$.compensation.status", CompensationStatus.IN_PROGRESS.value), wait
    )
    finished.when(
        sfn.Condition.string_equals("$.compensation.status", CompensationStatus.INCOMPLETE.value),
        say_what_is_left,
    )
    finished.otherwise(fail)
    wait.next(again).next(finished)
    say_what_is_left.next(fail)
    first.next(finished)
    return first
