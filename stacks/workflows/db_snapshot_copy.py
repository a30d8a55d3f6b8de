"""Workflow body of the `db-snapshot-copy` wave kind: a parent workflow and one child per database.

    Preflight ──► Approval: start-copy ──► Distributed Map over the databases (MaxConcurrency from the
        │            runbook; items read from the evidence bucket, results written there)
        │            each item: startExecution.sync:2 of the per-database workflow (its own
        │            execution and history)
        ▼
    Summarise the copies ──► Approval: accept-restored-databases ──► Clean up ──► Record evidence

Nothing in the wave's state grows with the number of databases: preflight writes the Map's items
(one per database) to the evidence bucket and returns their key; the Distributed Map reads them
(ItemReader) and writes its results to the bucket (ResultWriter); `Summarise the copies` reads each
database's evidence record and returns the gate's (bounded) text and the key of the copies record.

The per-database workflow (`<program>-<wave>-database`, versioned and deployed with the wave; the
parent starts the exact version it was deployed with): snapshot (capturing the `at_snapshot`
numbers) ─► copy under the shared key ─► share ─► copy into the target account ─► restore ─►
verify ─► record the database's evidence. Each long step is a Wait/Poll/Choice loop whose wait the
poll computes ($.job.wait_seconds), so one database's polls never share a history with another's.

Preflight touches nothing, so its failure fails the wave at once. Any later failure, rejection or
approval timeout is caught into `$.error` and compensated: compensation first waits until every
database's child execution has ended (none may still be creating anything), then deletes what
this execution made (name + tag) and removes the share, and the final Fail re-raises the error.
A compensation that cannot finish ends as `Wavectl.CompensationFailed`, with what is left, an
evidence record and a Slack post.
"""

from __future__ import annotations

from aws_cdk import Aws, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as sfn_tasks

from stacks.constructs.nag import acknowledge
from stacks.constructs.slack_token import grant_slack_bot_token
from stacks.constructs.task_function import TaskFunction
from stacks.constructs.versioned_state_machine import VersionedStateMachine
from stacks.names import evidence_bucket_name
from stacks.workflows.approval_gate import approval_gate
from stacks.workflows.context import WaveContext
from stacks.workflows.frame import dry_run_exit, fail_with_caught_error, step_note
from tasks import contracts
from tasks.contracts import CompensationStatus, ErrorName
from wavectl.kinds.db_snapshot_copy import DbSnapshotCopyWave

HANDLERS = "tasks.db_snapshot_copy.handler"
MAX_SPEC_CHARS = 3000  # Lambda allows 4 KB of environment per function; the rest is wavectl's own
ERROR_PATH = "$.error"
EXECUTION = "$$.Execution.Name"
DATABASE_WORKFLOW = "database"  # the child state machine is <program>-<wave>-database
# task -> (description, timeout seconds, reaches source/target accounts)
TASKS: dict[str, tuple[str, int, bool]] = {
    "preflight": ("read-only checks of every database, key, landing zone and residency rule", 300, True),
    "create_snapshot": ("capture the at_snapshot numbers and snapshot the source database", 120, True),
    "copy_snapshot": ("copy the source snapshot under the shared key (cross-region here)", 60, True),
    "share": ("share the shared-key snapshot with the target account", 60, True),
    "copy_to_target": ("copy the shared snapshot under the target-owned key", 60, True),
    "restore": ("restore the target snapshot (Aurora: cluster and instances)", 120, True),
    "poll": ("describe one long operation and compute the next wait", 30, True),
    "verify": ("verify a restored database against its snapshot-time numbers and the runbook", 300, True),
    "record_database": ("write one database's evidence record, return its digest", 60, False),
    "summarise": ("read every database's record: the acceptance summary and the copies record", 300, False),
    "cleanup": ("delete this execution's intermediate snapshots and the share", 300, True),
    "compensate": ("wait for every database's workflow, delete what this execution made", 600, True),
    "report_failure": ("record a failed compensation or cleanup as evidence and tell Slack", 60, False),
    "record_evidence": ("write the wave's evidence record", 60, False),
}
# The tasks of the per-database workflow: compensation waits this long after a child execution
# ended abnormally (stopped, timed out), so that none of its Lambdas can still be running.
CHILD_TASKS = ("create_snapshot", "copy_snapshot", "share", "copy_to_target", "restore", "poll", "verify",
               "record_database")  # fmt: skip
EVIDENCE_WRITERS = ("preflight", "record_database", "summarise", "compensate", "report_failure",
                    "record_evidence")  # fmt: skip
SPEC_READERS = ("preflight", "cleanup", "compensate")  # the databases, from the environment


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
    child = _database_workflow(ctx, wave, functions)
    _let_compensation_see_children(ctx, functions["compensate"], child)
    compensate = _compensation(ctx, functions)
    preflight = _preflight(ctx, wave, functions["preflight"])
    start = approval_gate(ctx, "start-copy", summary_path="$.start.text", on_failure=compensate)
    copies = _copy_each_database(ctx, wave, child)
    copies.add_catch(compensate, errors=[sfn.Errors.ALL], result_path=ERROR_PATH)
    summarise = _summarise(ctx, functions["summarise"])
    summarise.add_catch(compensate, errors=[sfn.Errors.ALL], result_path=ERROR_PATH)
    accept = approval_gate(
        ctx, "accept-restored-databases", summary_path="$.acceptance.text", on_failure=compensate
    )
    return (
        sfn.Chain.start(preflight)
        .next(dry_run_exit(ctx, "preflight"))
        .next(_start_summary(ctx, wave))
        .next(start)
        .next(copies)
        .next(step_note(ctx, "Every database copied, restored and verified"))
        .next(summarise)
        .next(accept)
        .next(_cleanup(ctx, functions))
        .next(step_note(ctx, "Intermediate snapshots and the share removed"))
        .next(_record_evidence(ctx, functions["record_evidence"]))
    )


def database_workflow_name(ctx: WaveContext) -> str:
    return f"{ctx.runbook.state_machine_name(ctx.wave.wave)}-{DATABASE_WORKFLOW}"[:80]


# ----------------------------------------------------------------------------- functions


def _functions(ctx: WaveContext, wave: DbSnapshotCopyWave) -> dict[str, TaskFunction]:
    spec = spec_environment(wave)
    child_timeout = max(TASKS[task][1] for task in CHILD_TASKS)
    functions = {}
    for task, (description, timeout, reaches_accounts) in TASKS.items():
        environment = dict(spec) if task in SPEC_READERS else {}
        if task == "compensate":
            environment[contracts.ENV_DB_CHILD_TASK_TIMEOUT] = str(child_timeout)
            environment[contracts.ENV_DB_CHILD_STATE_MACHINE] = database_workflow_name(ctx)
        if task == "report_failure":
            environment.update(_slack_environment(ctx))
        function = ctx.task_function(
            f"db-{task.replace('_', '-')}",
            f"{HANDLERS}.{task}",
            description=f"{wave.wave}: {description}",
            timeout=Duration.seconds(timeout),
            environment=environment or None,
        )
        if reaches_accounts:
            ctx.assume_workload_roles(function)
        functions[task] = function
    for task in EVIDENCE_WRITERS:
        ctx.grant_evidence_write(functions[task])
    _grant_evidence_read(ctx, functions["summarise"])
    # to post a failed compensation in the channel
    grant_slack_bot_token(functions["report_failure"], ctx.program.slack.bot_token, ctx.control.key)
    return functions


def _slack_environment(ctx: WaveContext) -> dict[str, str]:
    slack = ctx.program.slack
    return {contracts.ENV_SLACK_CHANNEL: slack.channel, contracts.ENV_SLACK_BOT_TOKEN_SECRET: slack.bot_token}


def _grant_evidence_read(ctx: WaveContext, function: TaskFunction) -> None:
    """GetObject under this wave's prefix (each database's record and the Map's item list), decrypted."""
    objects = f"{evidence_bucket_name(ctx.runbook)}/waves/{ctx.wave.wave}/*"
    function.role.add_to_policy(
        iam.PolicyStatement(
            sid="ReadWaveEvidence",
            actions=["s3:GetObject"],
            resources=[f"arn:{Aws.PARTITION}:s3:::{objects}"],
        )
    )
    function.role.add_to_policy(
        iam.PolicyStatement(
            sid="ReadWaveEvidenceKey", actions=["kms:Decrypt"], resources=[ctx.control.key.key_arn]
        )
    )
    acknowledge(
        function.role,
        f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::{objects}]",
        "GetObject only, under this wave's prefix of the evidence bucket: the per-database records and the "
        "item list of the execution it summarises (named by execution at run time).",
    )


def _let_compensation_see_children(
    ctx: WaveContext, function: TaskFunction, child: VersionedStateMachine
) -> None:
    """Compensation reads the status of this wave's per-database executions (and nothing else)."""
    executions = (
        f"arn:{Aws.PARTITION}:states:{Aws.REGION}:{Aws.ACCOUNT_ID}:execution:{database_workflow_name(ctx)}:*"
    )
    function.role.add_to_policy(
        iam.PolicyStatement(actions=["states:DescribeExecution"], resources=[executions])
    )
    acknowledge(
        function.role,
        f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:"
        f"{database_workflow_name(ctx)}:*]",
        "DescribeExecution on the executions of this wave's own per-database workflow: their names are "
        "only known at run time.",
    )


# ----------------------------------------------------------------------------- parent states


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
    ctx: WaveContext, wave: DbSnapshotCopyWave, child: VersionedStateMachine
) -> sfn.DistributedMap:
    copies = sfn.DistributedMap(
        ctx.scope,
        "Copy each database",
        item_reader=_items_reader(ctx),
        result_writer_v2=_results_writer(ctx),
        map_execution_type=sfn.StateMachineType.STANDARD,
        max_concurrency=wave.max_concurrency,
        item_selector={"db.$": "$$.Map.Item.Value", "execution.$": EXECUTION},
        result_path="$.copies",
        comment="one child execution per database; the items are preflight's list in the evidence bucket, "
        "the results go there too (the state keeps the results' location only)",
    )
    version = sfn.StateMachine.from_state_machine_arn(
        ctx.scope, "DatabaseWorkflowVersion", child.version.attr_arn
    )
    run_child = sfn_tasks.StepFunctionsStartExecution(
        ctx.scope,
        "Copy one database",
        state_machine=version,
        integration_pattern=sfn.IntegrationPattern.RUN_JOB,
        name=sfn.JsonPath.string_at("$.db.child_execution"),
        input=sfn.TaskInput.from_object({"execution.$": "$.execution", "db.$": "$.db"}),
        associate_with_parent=False,
        result_selector={
            "database.$": "$.Output.database",
            "status.$": "$.Output.status",
            "target_arn.$": "$.Output.target_arn",
            "evidence_key.$": "$.Output.evidence_key",
            "evidence_sha256.$": "$.Output.evidence_sha256",
            "summary.$": "$.Output.summary",
        },
        comment="the database's own execution of the per-database workflow version deployed with this wave; "
        "only its small result is kept (the full record is in the evidence bucket)",
    )
    copies.item_processor(run_child)
    return copies


def _evidence_objects(ctx: WaveContext, pattern: str) -> tuple[str, str]:
    """(ARN, cdk-nag's spelling of it) of objects under this wave's prefix of the evidence bucket."""
    path = f"{evidence_bucket_name(ctx.runbook)}/waves/{ctx.wave.wave}/{pattern}"
    return f"arn:{Aws.PARTITION}:s3:::{path}", f"arn:<AWS::Partition>:s3:::{path}"


def _items_reader(ctx: WaveContext) -> sfn.S3JsonItemReader:
    """The Map's items: the JSON list preflight wrote (`$.preflight.items.key`); the state machine may
    read that one file name under the wave's prefix, decrypted with the program key."""
    objects, nag = _evidence_objects(ctx, f"*/{contracts.DB_ITEMS_FILE}")
    statements = [
        iam.PolicyStatement(actions=["s3:GetObject"], resources=[objects]),
        iam.PolicyStatement(actions=["kms:Decrypt"], resources=[ctx.control.key.key_arn]),
    ]

    class ItemsReader(sfn.S3JsonItemReader):
        def provide_policy_statements(self) -> list[iam.PolicyStatement]:
            return statements

    acknowledge(ctx.scope, f"AwsSolutions-IAM5[Resource::{nag}]",
                "The Distributed Map reads its item list, one file per execution named at run time, under "
                "this wave's prefix of the evidence bucket.")  # fmt: skip
    return ItemsReader(
        bucket=ctx.control.evidence_bucket, key=sfn.JsonPath.string_at("$.preflight.items.key")
    )


def _results_writer(ctx: WaveContext) -> sfn.ResultWriterV2:
    """The Map's results (each child's small result) go to the evidence bucket, never into the state.
    The actions are those Step Functions documents for a ResultWriter, on its prefix only."""
    prefix = f"waves/{ctx.wave.wave}/{contracts.DB_MAP_RESULTS_PREFIX}"
    objects, nag = _evidence_objects(ctx, f"{contracts.DB_MAP_RESULTS_PREFIX}/*")
    statements = [
        iam.PolicyStatement(
            actions=[
                "s3:PutObject",
                "s3:GetObject",
                "s3:ListMultipartUploadParts",
                "s3:AbortMultipartUpload",
            ],
            resources=[objects],
        ),
        iam.PolicyStatement(
            actions=["kms:GenerateDataKey", "kms:Decrypt"], resources=[ctx.control.key.key_arn]
        ),
    ]

    class ResultsWriter(sfn.ResultWriterV2):
        def provide_policy_statements(self) -> list[iam.PolicyStatement]:
            return statements

    acknowledge(ctx.scope, f"AwsSolutions-IAM5[Resource::{nag}]",
                "The Distributed Map writes its result files under this wave's map-results prefix of the "
                "evidence bucket (one folder per map run, named by Step Functions).")  # fmt: skip
    return ResultsWriter(bucket=ctx.control.evidence_bucket, prefix=prefix)


def _summarise(ctx: WaveContext, function: TaskFunction) -> sfn.TaskStateBase:
    return ctx.invoke(
        "Summarise the copies",
        function,
        {"execution.$": EXECUTION, "items.$": "$.preflight.items", "map_run.$": "$.copies"},
        result_path="$.acceptance",
        comment="every database's record from the evidence bucket: the gate's text (bounded) and the copies "
        "record (each database's small result and its record's digest)",
    )


def _cleanup(ctx: WaveContext, functions: dict[str, TaskFunction]) -> sfn.TaskStateBase:
    step = ctx.invoke(
        "Clean up",
        functions["cleanup"],
        {"execution.$": EXECUTION},
        result_path="$.cleanup",
        comment="after acceptance: intermediate snapshots and the share go; restored databases stay",
    )
    step.add_retry(errors=[sfn.Errors.ALL], interval=Duration.seconds(30), max_attempts=3, backoff_rate=2)
    report = _report_failure(ctx, functions["report_failure"], "Report cleanup failure", "cleanup-failed",
                             fail_with_caught_error(ctx, "Cleanup failed"))  # fmt: skip
    step.add_catch(report, errors=[sfn.Errors.ALL], result_path=ERROR_PATH)
    return step


def _record_evidence(ctx: WaveContext, function: TaskFunction) -> sfn.TaskStateBase:
    step = ctx.invoke(
        "Record evidence",
        function,
        {
            "execution.$": EXECUTION,
            "request.$": "$.request",
            "copies.$": "$.acceptance.copies",
            "cleanup.$": "$.cleanup",
        },
        result_path="$.evidence",
        comment="the databases were accepted and stay; each one's own record is already in the bucket",
    )
    step.add_retry(errors=[sfn.Errors.ALL], interval=Duration.seconds(10), max_attempts=3, backoff_rate=2)
    step.add_catch(
        fail_with_caught_error(ctx, "Evidence not recorded"), errors=[sfn.Errors.ALL], result_path=ERROR_PATH
    )
    return step


def _report_failure(
    ctx: WaveContext, function: TaskFunction, state_id: str, outcome: str, then: sfn.IChainable
) -> sfn.TaskStateBase:
    """Evidence record + Slack post of a failure nobody may miss; whatever happens, goes on to `then`."""
    payload = {"execution.$": EXECUTION, "outcome": outcome, "error.$": ERROR_PATH, "request.$": "$.request"}
    if outcome == "compensation-failed":
        payload["compensation.$"] = "$.compensation"
    step = ctx.invoke(
        state_id,
        function,
        payload,
        result_path="$.failure_report",
        comment="writes the evidence record and posts in the wave's Slack channel",
    )
    step.add_catch(then, errors=[sfn.Errors.ALL], result_path="$.failure_report_error")
    step.next(then)
    return step


def _compensation(ctx: WaveContext, functions: dict[str, TaskFunction]) -> sfn.IChainable:
    """Compensate until nothing this execution made is left (bounded rounds), then fail with the error.

    Compensate ─► Compensation finished? ─(in-progress)─► Wait for deletions ─► Compensate again ─┐
                        ▲ ├─(done)─► Name the error ─► Wave failed (the caught error)            │
                        │ └─(incomplete)─► Report compensation failure ─► Compensation failed      │
                        └──────────────────────────────────────────────────────────────────────────┘
    A crash of the compensate task itself goes to the same report and `Wavectl.CompensationFailed`.
    """
    name_the_error = sfn.Pass(
        ctx.scope,
        "Name the error",
        parameters={"Error.$": "$.compensation.error", "Cause.$": "$.compensation.cause"},
        result_path=ERROR_PATH,
        comment="the error that started compensation (a database's own, not the child execution's wrapper)",
    )
    name_the_error.next(fail_with_caught_error(ctx, "Wave failed"))
    failed = sfn.Fail(
        ctx.scope,
        "Compensation failed",
        error=ErrorName.COMPENSATION_FAILED.value,
        cause_path="$.compensation.cause",
        comment="what is left in the accounts is in the cause, the evidence record and the Slack post",
    )
    crashed = sfn.Pass(
        ctx.scope,
        "Say compensation crashed",
        parameters={
            "status": CompensationStatus.INCOMPLETE.value,
            "cause.$": "States.Format('{} | compensation itself failed ({}: {}); what this execution made "
            "may still be in the accounts: delete it by the wavectl:execution tag', "
            "$.error.Cause, $.compensation_error.Error, $.compensation_error.Cause)",
            "left": [],
            "pending": [],
        },
        result_path="$.compensation",
    )
    report = _report_failure(ctx, functions["report_failure"], "Report compensation failure",
                             "compensation-failed", failed)  # fmt: skip
    crashed.next(report)
    payload = {"execution.$": EXECUTION, "execution_id.$": "$$.Execution.Id", "error.$": ERROR_PATH,
               "request.$": "$.request"}  # fmt: skip
    first = ctx.invoke(
        "Compensate",
        functions["compensate"],
        payload,
        result_path="$.compensation",
        comment="waits for every database's workflow to end, then deletes only what this execution made",
    )
    again = ctx.invoke(
        "Compensate again",
        functions["compensate"],
        {**payload, "previous.$": "$.compensation"},
        result_path="$.compensation",
        comment="next round: children still running, or what RDS would not let go yet",
    )
    for step in (first, again):
        step.add_catch(crashed, errors=[sfn.Errors.ALL], result_path="$.compensation_error")
    wait = sfn.Wait(
        ctx.scope,
        "Wait for deletions",
        time=sfn.WaitTime.seconds_path("$.compensation.wait_seconds"),
        comment="capped backoff between compensation rounds, computed by the compensate task",
    )
    finished = sfn.Choice(ctx.scope, "Compensation finished?")
    finished.when(
        sfn.Condition.string_equals("$.compensation.status", CompensationStatus.IN_PROGRESS.value), wait
    )
    finished.when(
        sfn.Condition.string_equals("$.compensation.status", CompensationStatus.INCOMPLETE.value), report
    )
    finished.otherwise(name_the_error)
    wait.next(again).next(finished)
    first.next(finished)
    return first


# ----------------------------------------------------------------------------- per-database workflow


def _database_workflow(
    ctx: WaveContext, wave: DbSnapshotCopyWave, functions: dict[str, TaskFunction]
) -> VersionedStateMachine:
    name = database_workflow_name(ctx)
    child = VersionedStateMachine(
        ctx.scope,
        "DatabaseWorkflow",
        state_machine_name=name,
        definition=_per_database(ctx, functions),
        wave=f"{wave.wave}/{DATABASE_WORKFLOW}",
        runbook_version=wave.version,
        comment=f"wavectl {ctx.program.program}/{wave.wave}: copy one database (started by the wave)",
        log_key=ctx.control.key,
        encryption_key=ctx.control.key,  # its history holds what the parent's does: same key, same readers
    )
    acknowledge(
        child.role,
        "AwsSolutions-IAM5[Resource::*]",
        "X-Ray PutTraceSegments/PutTelemetryRecords/GetSampling* support no resource-level permissions.",
    )
    stack = Stack.of(ctx.scope)
    version = stack.get_logical_id(child.version)
    acknowledge(
        ctx.scope,
        f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:{stack.region}:{stack.account}:execution:"
        f'{{"Fn::Select":[6,{{"Fn::Split":[":",{{"Fn::GetAtt":["{version}","Arn"]}}]}}]}}*]',
        "DescribeExecution/StopExecution on the executions of this wave's own per-database workflow "
        "(startExecution.sync:2 follows the child it started); their names are only known at run time.",
    )
    return child


def _per_database(ctx: WaveContext, functions: dict[str, TaskFunction]) -> sfn.IChainable:
    item = {"execution.$": "$.execution", "db.$": "$.db"}

    def act(state_id: str, task: str, result_path: str = "$.job", **extra: str) -> sfn.TaskStateBase:
        return ctx.invoke(state_id, functions[task], {**item, **extra}, result_path=result_path)

    def until_ready(label: str) -> sfn.Choice:
        return _wait_loop(ctx, label, functions["poll"])

    snapshot = act("Snapshot source", "create_snapshot")
    keep_captured = sfn.Pass(
        ctx.scope, "Keep snapshot-time numbers", input_path="$.job.captured", result_path="$.captured",
        comment="the at_snapshot query results verification compares the target with",
    )  # fmt: skip
    copy = act("Copy under shared key", "copy_snapshot")
    share = act("Share with target account", "share", result_path="$.share")
    to_target = act("Copy into target account", "copy_to_target", **{"share.$": "$.share"})
    restore = act("Restore in target", "restore")
    verify = act("Verify restored database", "verify", result_path="$.verification",
                 **{"captured.$": "$.captured"})  # fmt: skip
    evidence = {"verification.$": "$.verification", "job.$": "$.job", "captured.$": "$.captured"}
    record = act("Record database evidence", "record_database", result_path="$.result", **evidence)
    done = sfn.Succeed(ctx.scope, "Database copied", output_path="$.result")
    snapshot_done, copy_done = until_ready("source snapshot"), until_ready("shared copy")
    target_done, restore_done = until_ready("target copy"), until_ready("restore")
    snapshot.next(snapshot_done)
    snapshot_done.when(_ready(), keep_captured)
    keep_captured.next(copy)
    copy.next(copy_done)
    copy_done.when(_ready(), share)
    share.next(to_target).next(target_done)
    target_done.when(_ready(), restore)
    restore.next(restore_done)
    restore_done.when(_ready(), verify)
    verify.next(record).next(done)
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
