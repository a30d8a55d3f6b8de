"""The payment bridge stack: buckets, rules, the SFTP connector, IAM scope and the Kubernetes writer role."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tasks.contracts import (
    BRIDGE_ACK_POLL_RULE,
    BRIDGE_INBOUND_RULE,
    BRIDGE_OUTBOUND_RULE,
    BRIDGE_TRANSFER_RESULT_RULE,
    bridge_resource_name,
)
from tests.stacks.templates import resources_of_type


@pytest.fixture(scope="module")
def bridge(example_runbook, cloud_assembly: Path) -> dict:
    program = example_runbook.program.program
    return json.loads((cloud_assembly / "PaymentBridge.template.json").read_text()) | {
        "_program": program,
        "_settings": example_runbook.program.payment_bridge,
    }


def logical_id_of(tmpl: dict, kind: str, **properties) -> str:
    for logical_id, resource in tmpl["Resources"].items():
        if resource["Type"] == kind and all(
            resource["Properties"].get(k) == v for k, v in properties.items()
        ):
            return logical_id
    raise KeyError(f"no {kind} with {properties}")


def bucket_named(tmpl: dict, name: str) -> tuple[str, dict]:
    logical_id = logical_id_of(tmpl, "AWS::S3::Bucket", BucketName=name)
    return logical_id, tmpl["Resources"][logical_id]["Properties"]


def rule_named(tmpl: dict, name: str) -> dict:
    (rule,) = [
        r["Properties"]
        for r in resources_of_type(tmpl, "AWS::Events::Rule")
        if r["Properties"]["Name"] == name
    ]
    return rule


def statements_of_role(tmpl: dict, role_id: str) -> list[dict]:
    found = []
    for resource in resources_of_type(tmpl, "AWS::IAM::Policy"):
        if {"Ref": role_id} in resource["Properties"]["Roles"]:
            found += resource["Properties"]["PolicyDocument"]["Statement"]
    return found


@pytest.mark.parametrize("role", ["inbound", "outbound", "quarantine", "acknowledgements"])
def test_bridge_buckets_are_kms_encrypted_versioned_private_and_expire_per_retention(bridge, role):
    settings = bridge["_settings"]
    # Given the bridge bucket for `role`
    logical_id, props = bucket_named(bridge, getattr(settings.buckets, role).name)
    # Then it is encrypted with the program key (SSE-KMS), versioned, and blocks all public access
    (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert "KMSMasterKeyID" in rule["ServerSideEncryptionByDefault"]
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert set(props["PublicAccessBlockConfiguration"].values()) == {True}
    # And sends its events to EventBridge (what the bridge's rules listen to)
    assert props["NotificationConfiguration"] == {"EventBridgeConfiguration": {"EventBridgeEnabled": True}}
    # And expires objects after the runbook's retention
    (lifecycle,) = props["LifecycleConfiguration"]["Rules"]
    assert lifecycle["ExpirationInDays"] == settings.retention
    # And its policy denies every request that is not TLS
    (policy,) = [
        p["Properties"]["PolicyDocument"]
        for p in resources_of_type(bridge, "AWS::S3::BucketPolicy")
        if p["Properties"]["Bucket"] == {"Ref": logical_id}
    ]
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in policy["Statement"]
    )


def test_bridge_inbound_rule_is_the_named_switch_from_object_created_to_the_ingest_function(bridge):
    settings = bridge["_settings"]
    inbound_id, _ = bucket_named(bridge, settings.buckets.inbound.name)
    # Given the inbound rule, found by the name the dual-run wave flips
    rule = rule_named(bridge, bridge_resource_name(bridge["_program"], BRIDGE_INBOUND_RULE))
    # Then it is on, listens to "Object Created" in the inbound bucket only, and targets the ingest function
    assert rule["State"] == "ENABLED"
    assert rule["EventPattern"] == {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": [{"Ref": inbound_id}]}},
    }
    (target,) = rule["Targets"]
    function_id = target["Arn"]["Fn::GetAtt"][0]
    assert bridge["Resources"][function_id]["Properties"]["Handler"] == "tasks.payments.ingest.handler"


def test_bridge_routes_manifests_and_transfer_results_to_the_transfer_function(bridge):
    settings = bridge["_settings"]
    outbound_id, _ = bucket_named(bridge, settings.buckets.outbound.name)
    connector_id = logical_id_of(bridge, "AWS::Transfer::Connector")
    outbound = rule_named(bridge, bridge_resource_name(bridge["_program"], BRIDGE_OUTBOUND_RULE))
    results = rule_named(bridge, bridge_resource_name(bridge["_program"], BRIDGE_TRANSFER_RESULT_RULE))
    # Then only a batch manifest in outbound starts a transfer (not the chunks or their sidecars)
    assert outbound["EventPattern"]["detail"] == {
        "bucket": {"name": [{"Ref": outbound_id}]},
        "object": {"key": [{"suffix": "/manifest.json"}]},
    }
    # And the connector's send results (and only this connector's) come back
    assert results["EventPattern"] == {
        "source": ["aws.transfer"],
        "detail-type": ["SFTP Connector File Send Completed", "SFTP Connector File Send Failed"],
        "detail": {"connector-id": [{"Fn::GetAtt": [connector_id, "ConnectorId"]}]},
    }
    handlers = {
        bridge["Resources"][rule["Targets"][0]["Arn"]["Fn::GetAtt"][0]]["Properties"]["Handler"]
        for rule in (outbound, results)
    }
    assert handlers == {"tasks.payments.transfer.handler"}
    # And acknowledgements are polled on a schedule
    poll = rule_named(bridge, bridge_resource_name(bridge["_program"], BRIDGE_ACK_POLL_RULE))
    assert poll["ScheduleExpression"] == "rate(5 minutes)"


def test_bridge_connector_pins_the_runbook_host_key_and_reads_its_credentials_secret(bridge):
    sftp = bridge["_settings"].sftp
    (connector,) = [r["Properties"] for r in resources_of_type(bridge, "AWS::Transfer::Connector")]
    # Then it points at the new owner's endpoint, trusts only the runbook's host key
    assert connector["Url"] == f"sftp://{sftp.host}:{sftp.port}"
    assert connector["SftpConfig"]["TrustedHostKeys"] == [sftp.host_key]
    # And authenticates with the secret the runbook names, encrypted with the program key
    secret_id = connector["SftpConfig"]["UserSecretId"]["Ref"]
    secret = bridge["Resources"][secret_id]["Properties"]
    assert secret["Name"] == sftp.credentials_secret
    assert "KmsKeyId" in secret


def test_bridge_transfer_function_may_start_transfers_only_on_its_connector(bridge):
    connector_id = logical_id_of(bridge, "AWS::Transfer::Connector")
    statements = [
        s
        for r in resources_of_type(bridge, "AWS::IAM::Policy")
        for s in r["Properties"]["PolicyDocument"]["Statement"]
        if any(
            a.startswith("transfer:")
            for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
        )
    ]
    # Then every Transfer Family permission names the bridge's connector, never "*"
    assert statements
    assert all(s["Resource"] == {"Fn::GetAtt": [connector_id, "Arn"]} for s in statements)


def test_bridge_kubernetes_writer_may_only_put_objects_under_its_inbound_prefix(bridge):
    writer = bridge["_settings"].kubernetes_writer
    inbound_id, _ = bucket_named(bridge, bridge["_settings"].buckets.inbound.name)
    role_id = logical_id_of(
        bridge, "AWS::IAM::Role", RoleName=bridge_resource_name(bridge["_program"], "k8s-writer")
    )
    role = bridge["Resources"][role_id]["Properties"]
    # Given the IRSA role of the Kubernetes writer
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    # Then only the named service account of the cluster's OIDC provider can assume it
    assert trust["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert trust["Principal"]["Federated"]["Fn::Join"][1][-1].endswith(f"oidc-provider/{writer.oidc_issuer}")
    assert trust["Condition"]["StringEquals"] == {
        f"{writer.oidc_issuer}:sub": f"system:serviceaccount:{writer.namespace}:{writer.service_account}",
        f"{writer.oidc_issuer}:aud": "sts.amazonaws.com",
    }
    # And it may do one thing with S3: PutObject under the writer prefix of inbound
    statements = statements_of_role(bridge, role_id)
    s3 = [s for s in statements if any(a.startswith("s3:") for a in _actions(s))]
    assert [_actions(s) for s in s3] == [["s3:PutObject"]]
    assert s3[0]["Resource"] == {
        "Fn::Join": ["", [{"Fn::GetAtt": [inbound_id, "Arn"]}, f"/{writer.prefix}*"]]
    }
    # And use the program key only through S3 in this region
    kms = [s for s in statements if any(a.startswith("kms:") for a in _actions(s))]
    assert all(s["Condition"]["StringEquals"]["kms:ViaService"].startswith("s3.") for s in kms)
    assert {a for s in statements for a in _actions(s)} == {
        "s3:PutObject",
        "kms:GenerateDataKey",
        "kms:Encrypt",
    }


def _actions(statement: dict) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else actions
