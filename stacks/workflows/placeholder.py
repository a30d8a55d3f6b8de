"""Body of a wave kind whose own workflow has not landed yet: an approval gate, then one Pass state.

Every wave has at least one gate ("go"), so rehearsals and the demo show an approval for every wave.
"""

from __future__ import annotations

from aws_cdk import aws_stepfunctions as sfn

from stacks.workflows.approval_gate import approval_gate
from stacks.workflows.context import WaveContext
from stacks.workflows.frame import dry_run_exit, fail_with_caught_error


def build(ctx: WaveContext) -> sfn.IChainable:
    wave = ctx.wave
    gate = approval_gate(
        ctx,
        "go",
        summary=f"Start wave {wave.wave} ({wave.kind}) v{wave.version}: {wave.description}".strip(": "),
        on_failure=fail_with_caught_error(ctx, "Not approved"),
    )
    body = sfn.Pass(
        ctx.scope,
        f"{wave.kind} (not yet implemented)",
        comment=f"placeholder body for wave kind {wave.kind}; its own workflow replaces it",
        result=sfn.Result.from_object({"kind": wave.kind, "implemented": False}),
        result_path="$.body",
    )
    return dry_run_exit(ctx, "input, freeze window and dependency checks").next(gate).next(body)
