"""The dual run's partitioned path: a day too big for one Lambda is reconciled in hash partitions.

    Size the day ─► Partitioned? ─(no)──► Reconcile the day ─────────────────────────────► Clean?
                        └─(yes)─► Partition the day ─► Reconcile the partitions ─► Merge the partitions ─┘
                                        (Distributed Map, one child execution per partition)

`Partition the day` writes both sides, split by a hash of the key, to the wave's work bucket and hands
the Distributed Map one item per partition; each child execution reconciles one partition pair into
the work bucket; `Merge the partitions` adds the summaries up and re-sorts the CSVs into the day's
outputs (byte-identical to one unpartitioned run) in the evidence bucket.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn

from stacks.constructs.access_log_bucket import access_log_bucket
from stacks.constructs.nag import acknowledge
from stacks.constructs.task_function import TaskFunction
from stacks.workflows.context import WaveContext
from tasks import contracts

WORK_DAYS = 3  # partitions and their outputs are working copies: expired after this many days
MAP_CONCURRENCY = 40  # child executions at once (each one 2 GB function)
PCI, NIST = "PCI.DSS.321", "NIST.800.53.R5"


def work_buckets(ctx: WaveContext) -> s3.Bucket:
    """The wave's work bucket (SSE-KMS with the program key, TLS only, versioned, expiring), with its
    own server-access-log bucket."""
    name = f"{ctx.program.program}-{ctx.wave.wave}-{contracts.DUAL_RUN_WORK_BUCKET_SUFFIX}"[:63]
    logs = access_log_bucket(ctx.scope, "WorkAccessLogs", serves="the work bucket", retention_days=400)
    work = s3.Bucket(
        ctx.scope,
        "WorkBucket",
        bucket_name=name,
        encryption=s3.BucketEncryption.KMS,
        encryption_key=ctx.control.key,
        bucket_key_enabled=True,
        enforce_ssl=True,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        versioned=True,
        server_access_logs_bucket=logs,
        server_access_logs_prefix=f"{name}/",
        lifecycle_rules=[
            s3.LifecycleRule(
                id="working-copies",
                expiration=Duration.days(WORK_DAYS),
                noncurrent_version_expiration=Duration.days(1),
                abort_incomplete_multipart_upload_after=Duration.days(1),
            )
        ],
        removal_policy=RemovalPolicy.DESTROY,
    )
    for bucket in (logs, work):
        for pack in (PCI, NIST):
            acknowledge(
                bucket,
                f"{pack}-S3BucketReplicationEnabled",
                "Working copies of one business day's payments (expired after a few days) stay in the wave's "
                "region, which the runbook's residency check allows for the eu-payments class; the originals "
                "and the evidence are kept elsewhere.",
            )
    return work


def partitioned_path(
    ctx: WaveContext,
    functions: dict[str, TaskFunction],
    task,
    loop: str,
    on_failure: sfn.IChainable,
    one_function: sfn.IChainable,
    merged: sfn.IChainable,
) -> sfn.IChainable:
    """Size the day, then `one_function` (small) or partition + Distributed Map + merge, then `merged`."""
    size = task("Size the day", "plan", {"cycle.$": f"{loop}.cycle"}, "$.plan", "HeadObject of both files")
    choice = sfn.Choice(ctx.scope, "Partitioned?")
    split = task(
        "Partition the day",
        "partition",
        {"cycle.$": f"{loop}.cycle", "partitions.$": "$.plan.partitions"},
        "$.partitioned",
        "both sides by a hash of the key into the work bucket; one Map item per partition",
    )
    fan_out = sfn.DistributedMap(
        ctx.scope,
        "Reconcile the partitions",
        items_path="$.partitioned.items",
        item_selector={
            "index.$": "$$.Map.Item.Value.index",
            "prefix.$": "$.partitioned.prefix",
            "execution.$": "$$.Execution.Id",
        },
        max_concurrency=MAP_CONCURRENCY,
        map_execution_type=sfn.StateMachineType.STANDARD,
        result_path=sfn.JsonPath.DISCARD,
        comment="one Standard child execution per hash partition",
    )
    fan_out.item_processor(
        ctx.invoke(
            "Reconcile one partition",
            functions["reconcile_partition"],
            {"index.$": "$.index", "prefix.$": "$.prefix", "execution.$": "$.execution"},
            comment="partition pair from the work bucket; its outputs back to the work bucket",
        )
    )
    fan_out.add_catch(on_failure, errors=[sfn.Errors.ALL], result_path="$.error")
    merge = task(
        "Merge the partitions",
        "merge",
        {"cycle.$": f"{loop}.cycle", "prefix.$": "$.partitioned.prefix", "partitions.$": "$.plan.partitions"},
        "$.result",
        "partition summaries added up, CSVs re-sorted: the day's outputs in evidence; summary.txt to Slack",
    )
    size.next(choice)
    choice.when(sfn.Condition.boolean_equals("$.plan.partitioned", True), split)
    choice.otherwise(one_function)
    split.next(fan_out).next(merge).next(merged)
    return size


def grant_partitioned_path(
    ctx: WaveContext, functions: dict[str, TaskFunction], work: s3.Bucket, ack_objects: str, acks: str
) -> None:
    """plan: HeadObject; partition: read the day's files, write partitions; reconcile_partition: read
    and write the work bucket; merge: read the work bucket, write evidence."""
    key = ctx.control.key.key_arn

    def allow(name: str, sid: str, actions: list[str], resources: list[str]) -> None:
        functions[name].role.add_to_policy(iam.PolicyStatement(sid=sid, actions=actions, resources=resources))

    # no s3:ListBucket: plan and partition run after the wait found both files, so a file that is not
    # there answers 403 instead of 404 and fails the step just the same
    for name in ("plan", "partition"):
        ctx.assume_workload_roles(functions[name])
        allow(name, "ReadAcknowledgements", ["s3:GetObject"], [ack_objects])
    allow("partition", "DecryptAcknowledgements", ["kms:Decrypt"], [key])
    objects = work.arn_for_objects("*")
    allow("partition", "WritePartitions", ["s3:PutObject"], [objects])
    allow("reconcile_partition", "ReadWriteWork", ["s3:GetObject", "s3:PutObject"], [objects])
    allow("reconcile_partition", "ListPartitionFiles", ["s3:ListBucket"], [work.bucket_arn])
    allow("merge", "ReadPartitionOutputs", ["s3:GetObject"], [objects])
    allow("partition", "EncryptWork", ["kms:GenerateDataKey"], [key])
    allow("reconcile_partition", "EncryptWork", ["kms:GenerateDataKey", "kms:Decrypt"], [key])
    allow("merge", "DecryptWork", ["kms:Decrypt"], [key])
    ctx.grant_evidence_write(functions["merge"])
    work_id = Stack.of(work).get_logical_id(work.node.default_child)
    for name in ("partition", "reconcile_partition", "merge"):
        acknowledge(
            functions[name].role,
            f"AwsSolutions-IAM5[Resource::<{work_id}.Arn>/*]",
            "Objects of the wave's own work bucket only (partitions named per execution and day at run "
            "time).",
        )
    for name in ("plan", "partition"):
        acknowledge(
            functions[name].role,
            f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::{ack_objects.split(':::', 1)[1]}]",
            "The daily acknowledgement files are named by business day at run time; read-only, limited "
            "to the runbook's acknowledgement prefix of the bridge's acknowledgement bucket.",
        )
