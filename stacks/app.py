"""Builds the CDK app for a runbook: a control plane plus one WaveStack per wave."""

from __future__ import annotations

from aws_cdk import App, Environment, Tags, Validations
from cdk_nag import AwsSolutionsChecks, NIST80053R5Checks, PCIDSS321Checks

from stacks.bundling import BUNDLE_CONTEXT_KEY, task_code
from stacks.control_plane import ControlPlaneStack
from stacks.payment_bridge import PaymentBridgeStack
from stacks.wave_stack import WaveStack
from wavectl.runbook import Runbook

RESULT_WRITER_V2_FLAG = "@aws-cdk/aws-stepfunctions:useDistributedMapResultWriterV2"


def control_plane_stack_name(runbook: Runbook) -> str:
    return f"{runbook.program.program}-control-plane"


def payment_bridge_stack_name(runbook: Runbook) -> str:
    return f"{runbook.program.program}-payment-bridge"


def wave_stack_name(runbook: Runbook, wave: str) -> str:
    return f"{runbook.program.program}-wave-{wave}"


def _bundling_enabled(app: App) -> bool:
    value = app.node.try_get_context(BUNDLE_CONTEXT_KEY)
    return str(value).lower() not in ("false", "0", "no")


def build_app(app: App, runbook: Runbook, *, nag: bool = True) -> App:
    """Add the program's stacks to `app` (no AWS calls, no git calls, no Docker)."""
    # A Distributed Map's ResultWriter is rendered from `result_writer_v2` only with this flag (CDK's
    # v1 ResultWriter is deprecated); the db-snapshot-copy wave writes its Map results to S3 with it.
    app.node.set_context(RESULT_WRITER_V2_FLAG, True)
    program = runbook.program
    env = Environment(account=program.accounts.tooling, region=program.home_region)
    bundle = _bundling_enabled(app)
    control = ControlPlaneStack(
        app,
        "ControlPlane",
        stack_name=control_plane_stack_name(runbook),
        runbook=runbook,
        code=task_code(bundle),  # one asset per stack, as CDK requires
        env=env,
        description=f"wavectl {program.program}: control plane (approvals, evidence, Slack)",
    )
    bridge = getattr(program, "payment_bridge", None)
    if bridge is not None:
        PaymentBridgeStack(
            app,
            "PaymentBridge",
            stack_name=payment_bridge_stack_name(runbook),
            program=program.program,
            settings=bridge,
            key=control.refs.key,
            code=task_code(bundle),  # one asset per stack, as CDK requires
            env=env,
            description=f"wavectl {program.program}: payment bridge (inbound -> new owner over SFTP -> acks)",
        )
    for wave in runbook.ordered_waves():
        WaveStack(
            app,
            f"Wave-{wave.wave}",
            stack_name=wave_stack_name(runbook, wave.wave),
            runbook=runbook,
            wave=wave,
            control=control.refs,
            code=task_code(bundle),  # one asset per stack, as CDK requires
            env=env,
            description=f"wavectl {program.program}: wave {wave.wave} ({wave.kind}) v{wave.version}",
        )
    Tags.of(app).add("wavectl:program", program.program)
    if nag:
        # every finding of each pack fails synth unless acknowledged in code with its reason
        Validations.of(app).add_plugins(AwsSolutionsChecks(app), PCIDSS321Checks(app), NIST80053R5Checks(app))
    return app
