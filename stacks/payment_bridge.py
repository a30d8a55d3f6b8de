"""The payment bridge's own stack: program infrastructure, deployed once, switched by the dual-run wave."""

from __future__ import annotations

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from stacks.constructs.payment_bridge import PaymentBridge
from tasks.contracts import ENV_BRIDGE_PIPELINE_SPEC
from wavectl.bridge_model import pipeline_spec


def pipeline_environment(settings) -> dict[str, str]:
    """The ingest function's pipeline settings (formats, chunking, enrichment), as the pipeline reads them."""
    return {ENV_BRIDGE_PIPELINE_SPEC: pipeline_spec(settings)}


class PaymentBridgeStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        program: str,
        settings,
        key: kms.IKey,
        code: lambda_.Code,
        **kwargs,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        regions = {
            getattr(settings.buckets, role).region
            for role in ("inbound", "outbound", "quarantine", "acknowledgements")
        }
        if regions != {self.region}:
            raise ValueError(
                f"payment_bridge buckets must be in the program's home region {self.region} (the program key "
                f"encrypts them and is regional); found {', '.join(sorted(regions))}"
            )
        # Referenced by ARN: grants go to the bridge's roles (the account-rooted key policy defers to IAM),
        # so the control plane's key policy never names a bridge role (no stack cycle).
        program_key = kms.Key.from_key_arn(self, "ProgramKey", key.key_arn)
        self.bridge = PaymentBridge(
            self,
            "PaymentBridge",
            program=program,
            settings=settings,
            key=program_key,
            code=code,
            pipeline_environment=pipeline_environment(settings),
        )
        CfnOutput(
            self,
            "InboundRuleName",
            value=self.bridge.inbound_rule.rule_name,
            description="The bridge's on/off switch (events:EnableRule / events:DisableRule)",
        )
        if self.bridge.writer_role is not None:
            CfnOutput(
                self,
                "KubernetesWriterRoleArn",
                value=self.bridge.writer_role.role_arn,
                description="IRSA role for the Kubernetes extract writer (eks.amazonaws.com/role-arn)",
            )
