"""Body of a wave kind whose own workflow has not landed yet: one Pass state, clearly named."""

from __future__ import annotations

from aws_cdk import aws_stepfunctions as sfn

from stacks.workflows.context import WaveContext


def build(ctx: WaveContext) -> sfn.IChainable:
    return sfn.Pass(
        ctx.scope,
        f"{ctx.wave.kind} (not yet implemented)",
        comment=f"placeholder body for wave kind {ctx.wave.kind}; its own workflow replaces it",
        result=sfn.Result.from_object({"kind": ctx.wave.kind, "implemented": False}),
        result_path="$.body",
    )
