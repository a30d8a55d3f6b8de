"""Builds the CDK app for a runbook: a control plane plus one WaveStack per wave."""

from __future__ import annotations

from aws_cdk import App, Environment, Stack, Tags, Validations
from cdk_nag import AwsSolutionsChecks, NIST80053R5Checks, PCIDSS321Checks

from stacks import workload_actions
from stacks.bundling import BUNDLE_CONTEXT_KEY, task_code
from stacks.control_plane import ControlPlaneStack
from stacks.cross_account import CrossAccountRoleStack, side_of
from stacks.payment_bridge import PaymentBridgeStack
from stacks.wave_stack import WaveStack
from stacks.workflows.context import WaveContext
from wavectl.runbook import Runbook

RESULT_WRITER_V2_FLAG = "@aws-cdk/aws-stepfunctions:useDistributedMapResultWriterV2"


def control_plane_stack_name(runbook: Runbook) -> str:
    return f"{runbook.program.program}-control-plane"


def payment_bridge_stack_name(runbook: Runbook) -> str:
    return f"{runbook.program.program}-payment-bridge"


def wave_stack_name(runbook: Runbook, wave: str) -> str:
    return f"{runbook.program.program}-wave-{wave}"


def cross_account_stack_name(runbook: Runbook, side: str) -> str:
    return f"{runbook.program.program}-cross-account-{side}"


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
    stacks: list[Stack] = [control]
    bridge = getattr(program, "payment_bridge", None)
    if bridge is not None:
        bridge_stack = PaymentBridgeStack(
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
        stacks.append(bridge_stack)
    for wave in runbook.ordered_waves():
        wave_stack = WaveStack(
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
        stacks.append(wave_stack)
    control.name_the_key_users(stacks)  # the key's policy names each of these stacks' roles that use it
    _cross_account_roles(app, runbook, [s.context for s in stacks if isinstance(s, WaveStack)])
    Tags.of(app).add("wavectl:program", program.program)
    if nag:
        # every finding of each pack fails synth unless acknowledged in code with its reason
        Validations.of(app).add_plugins(AwsSolutionsChecks(app), PCIDSS321Checks(app), NIST80053R5Checks(app))
    return app


def _cross_account_roles(app: App, runbook: Runbook, waves: list[WaveContext]) -> None:
    """One stack per role of another account that a wave's tasks assume, deployed into that account,
    trusting exactly the task roles that assume it (stacks/cross_account.py)."""
    program = runbook.program
    source, target = program.accounts.source.role_arn(), program.accounts.target.role_arn()
    assumers: dict[str, set[str]] = {}
    for wave in waves:
        for role_arn, names in wave.assumers.items():
            assumers.setdefault(role_arn, set()).update(names)
    for role_arn, names in sorted(assumers.items()):
        side = side_of(role_arn, source, target)
        account, role_name = role_arn.split(":")[4], role_arn.rsplit("/", 1)[-1]
        CrossAccountRoleStack(
            app,
            f"CrossAccount-{side}",
            stack_name=cross_account_stack_name(runbook, side),
            role_name=role_name,
            tooling_account=program.accounts.tooling,
            trusted_role_names=sorted(names),
            external_id=program.workload_external_id,
            actions=workload_actions.for_role(role_arn, source=source, target=target),
            env=Environment(account=account, region=program.home_region),
            description=f"wavectl {program.program}: the role its tasks assume in account {account}",
        )
