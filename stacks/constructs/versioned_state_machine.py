"""A state machine published as a version whenever its definition changes, reached through `live`."""

from __future__ import annotations

import hashlib
import json

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from stacks.constructs.logged_role import logged_role
from stacks.constructs.nag import acknowledge
from tasks.contracts import LIVE_ALIAS


def definition_digest(stack: Stack, definition_string: object) -> str:
    """sha256 of the definition as CloudFormation will see it (tokens resolved to intrinsics)."""
    resolved = stack.resolve(definition_string)
    canonical = json.dumps(resolved, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _acknowledge_distributed_map_policy(
    state_machine: sfn.StateMachine, cfn_state_machine: sfn.CfnStateMachine
) -> None:
    """A definition with a Distributed Map gets CDK's `DistributedMapPolicy`: StartExecution of itself
    and Describe/StopExecution of its own executions and their child executions (ARN wildcards)."""
    policy = state_machine.node.try_find_child("DistributedMapPolicy")
    if policy is None:
        return
    stack = Stack.of(state_machine)
    name = '{"Fn::Select":[6,{"Fn::Split":[":",{"Ref":"' + stack.get_logical_id(cfn_state_machine) + '"}]}]}'
    executions = f"arn:<AWS::Partition>:states:{stack.region}:{stack.account}:execution:{name}"
    for resource in (f"{executions}:*", f"{executions}/*:*"):
        acknowledge(
            policy,
            f"AwsSolutions-IAM5[Resource::{resource}]",
            "Describe/StopExecution of this state machine's own executions and of its Distributed Map's "
            "child executions, whose names Step Functions makes at run time.",
        )
    for pack in ("PCI.DSS.321", "NIST.800.53.R5"):
        acknowledge(
            policy,
            f"{pack}-IAMNoInlinePolicy",
            "The Distributed Map's policy belongs to this one state machine's role (it starts its own child "
            "executions); a customer-managed policy would be attached to nothing else.",
        )


def state_machine_role_name(state_machine_name: str) -> str:
    """`<state machine name>-sfn`: no task function's name ends so (theirs end with the task's name)."""
    return f"{state_machine_name[:60]}-sfn"


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
            role_name=state_machine_role_name(state_machine_name),
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
        _acknowledge_distributed_map_policy(self.state_machine, cfn_state_machine)
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
