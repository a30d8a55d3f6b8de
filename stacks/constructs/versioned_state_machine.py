"""A state machine published as a version whenever its definition changes, reached through `live`."""

from __future__ import annotations

import hashlib
import json

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from stacks.constructs.logged_role import logged_role
from tasks.contracts import LIVE_ALIAS


def definition_digest(stack: Stack, definition_string: object) -> str:
    """sha256 of the definition as CloudFormation will see it (tokens resolved to intrinsics)."""
    resolved = stack.resolve(definition_string)
    canonical = json.dumps(resolved, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


class VersionedStateMachine(Construct):
    """State machine + `CfnStateMachineVersion` tied to its revision + alias `live` at 100%."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        state_machine_name: str,
        definition: sfn.IChainable,
        wave: str,
        runbook_version: int,
        comment: str,
        log_key: kms.IKey | None = None,
        encryption_key: kms.IKey | None = None,
    ) -> None:
        """`encryption_key`: the program's customer-managed key. Step Functions then encrypts the
        definition, execution input and output, and the execution history (task tokens included)
        with it, so reading history takes kms:Decrypt on that key, not only states:GetExecutionHistory."""
        super().__init__(scope, construct_id)
        self.log_group, self.role = logged_role(
            self,
            log_group_name=f"/aws/vendedlogs/states/{state_machine_name}",
            service="states.amazonaws.com",
            role_description=state_machine_name,
            log_key=log_key,
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_name=state_machine_name,
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            comment=comment,
            role=self.role,
            tracing_enabled=True,
            encryption_configuration=(
                sfn.CustomerManagedEncryptionConfiguration(encryption_key, Duration.minutes(5))
                if encryption_key is not None
                else None
            ),
            logs=sfn.LogOptions(
                destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=False
            ),
        )
        cfn_state_machine: sfn.CfnStateMachine = self.state_machine.node.default_child  # type: ignore[assignment]
        self.digest = definition_digest(Stack.of(self), cfn_state_machine.definition_string)
        self.version = sfn.CfnStateMachineVersion(
            self,
            "Version",
            state_machine_arn=self.state_machine.state_machine_arn,
            state_machine_revision_id=cfn_state_machine.attr_state_machine_revision_id,
            description=f"{wave} v{runbook_version} sha256:{self.digest}",
        )
        # Keep superseded versions: executions in flight finish on the version they started on.
        self.version.apply_removal_policy(RemovalPolicy.RETAIN)
        self.alias = sfn.CfnStateMachineAlias(
            self,
            "Live",
            name=LIVE_ALIAS,
            description=f"{wave}: the version new executions start on",
            routing_configuration=[
                sfn.CfnStateMachineAlias.RoutingConfigurationVersionProperty(
                    state_machine_version_arn=self.version.attr_arn, weight=100
                )
            ],
        )
