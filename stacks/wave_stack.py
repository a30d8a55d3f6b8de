"""One stack per wave: its task functions and its versioned state machine (alias `live`)."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from stacks.constructs.nag import acknowledge
from stacks.constructs.versioned_state_machine import VersionedStateMachine
from stacks.workflows import builder_for
from stacks.workflows.context import ControlPlaneRefs, WaveContext
from stacks.workflows.frame import wrap_in_frame
from wavectl.runbook import Runbook, Wave


class WaveStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        runbook: Runbook,
        wave: Wave,
        control: ControlPlaneRefs,
        code: lambda_.Code,
        **kwargs,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.context = WaveContext(scope=self, runbook=runbook, wave=wave, control=control, code=code)
        body = builder_for(wave.kind)(self.context)
        self.workflow = VersionedStateMachine(
            self,
            "Workflow",
            state_machine_name=runbook.state_machine_name(wave.wave),
            definition=wrap_in_frame(self.context, body),
            wave=wave.wave,
            runbook_version=wave.version,
            comment=f"wavectl {runbook.program.program}/{wave.wave} ({wave.kind}) v{wave.version}",
            log_key=control.key,
            encryption_key=control.key,
        )
        self._acknowledge_xray()

    def _acknowledge_xray(self) -> None:
        acknowledge(
            self.workflow.role,
            "AwsSolutions-IAM5[Resource::*]",
            "X-Ray PutTraceSegments/PutTelemetryRecords/GetSampling* support no resource-level permissions.",
        )
