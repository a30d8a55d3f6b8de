"""Workflow builders, one per wave kind. A builder turns a wave into the body of its workflow."""

from __future__ import annotations

from collections.abc import Callable

from aws_cdk import aws_stepfunctions as sfn

from stacks.workflows import db_snapshot_copy, decommission, dns_cutover, payment_dual_run
from stacks.workflows.context import WaveContext
from tasks.contracts import WaveKind

Builder = Callable[[WaveContext], sfn.IChainable]

BUILDERS: dict[str, Builder] = {
    WaveKind.DB_SNAPSHOT_COPY: db_snapshot_copy.build,
    WaveKind.DNS_CUTOVER: dns_cutover.build,
    WaveKind.PAYMENT_DUAL_RUN: payment_dual_run.build,
    WaveKind.DECOMMISSION: decommission.build,
}


def builder_for(kind: str) -> Builder:
    return BUILDERS[kind]
