"""Deploy a cloud assembly (`cdk.out`) into the embedded AWS, resource by resource.

Every intrinsic is resolved against what was created before it (`intrinsics.resolve`), so the
state machines get exactly the ASL the templates carry, with real ARNs in it. Types with no local
counterpart (dashboards, log-subscription plumbing, ...) get made-up names so references to them
resolve; `Resources.not_emulated` lists them.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import boto3

from wavectl.local.assembly import StackArtifact
from wavectl.local.intrinsics import StackScope, references, resolve
from wavectl.local.resources import DeployedResource, Resources

SLACK_API_URL_VARIABLE = "WAVECTL_SLACK_API_URL"


@dataclass
class DeployTarget:
    """Where and how to deploy: the tooling session, and local overrides."""

    session: boto3.Session
    secret_values: dict[str, str] = field(default_factory=dict)  # secret name -> seeded value
    function_environment: dict[str, str] = field(default_factory=dict)  # added to every function
    # Transfer connectors: local endpoint (url, trusted host keys) in place of the template's (the
    # new owner's real server is not reachable offline; the local SFTP server stands for it)
    connector_endpoint: tuple[str, list[str]] | None = None

    def client(self, service: str) -> Any:
        return _client(self.session, service)


@cache
def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.txt", "wavectl local: handlers run in-process from the project's tasks/\n")
    return buffer.getvalue()


_clients: dict[tuple[int, str], Any] = {}


def _client(session: boto3.Session, service: str) -> Any:
    key = (id(session), service)
    if key not in _clients:
        _clients[key] = session.client(service)
    return _clients[key]


# ----------------------------------------------------------------------------- assembly / stack


def deploy_assembly(stacks: list[StackArtifact], target: DeployTarget) -> Resources:
    resources = Resources()
    exports: dict[str, Any] = {}
    _clients.clear()
    for stack in stacks:
        deploy_stack(stack, target, resources, exports)
    return resources


def deploy_stack(stack: StackArtifact, target: DeployTarget, resources: Resources, exports: dict) -> None:
    template = stack.template
    scope = StackScope(
        stack_name=stack.stack_name,
        account=stack.account,
        region=stack.region,
        parameters={k: v.get("Default") for k, v in template.get("Parameters", {}).items()},
        exports=exports,
        conditions=dict(template.get("Conditions", {})),
    )
    for logical_id in deployment_order(stack.resources):
        definition = stack.resources[logical_id]
        if "Condition" in definition and not resolve({"Condition": definition["Condition"]}, scope):
            continue
        deployed = _deploy_resource(stack, logical_id, definition, scope, target)
        scope.refs[logical_id] = deployed.physical_id
        scope.attributes[logical_id] = deployed.attributes
        resources.add(deployed)
    for output in template.get("Outputs", {}).values():
        if "Export" in output:
            exports[resolve(output["Export"]["Name"], scope)] = resolve(output["Value"], scope)


def deployment_order(template_resources: dict[str, dict[str, Any]]) -> list[str]:
    """Logical ids, each after everything it refers to or depends on."""
    needs: dict[str, set[str]] = {}
    for logical_id, definition in template_resources.items():
        depends = definition.get("DependsOn", [])
        depends = [depends] if isinstance(depends, str) else depends
        found = set(references(definition.get("Properties", {}))) | set(depends)
        needs[logical_id] = {d for d in found if d in template_resources and d != logical_id}
    order: list[str] = []
    placed: set[str] = set()
    remaining = list(template_resources)
    while remaining:
        ready = [r for r in remaining if needs[r] <= placed] or remaining[:1]
        for logical_id in ready:
            order.append(logical_id)
            placed.add(logical_id)
            remaining.remove(logical_id)
    return order


def _deploy_resource(
    stack: StackArtifact, logical_id: str, definition: dict[str, Any], scope: StackScope, target: DeployTarget
) -> DeployedResource:
    resource_type = definition["Type"]
    props = resolve(definition.get("Properties", {}), scope)
    ctx = ResourceContext(stack, logical_id, resource_type, props, target)
    deployer = DEPLOYERS.get(resource_type)
    if deployer is None:
        return _not_emulated(ctx)
    physical_id, attributes = deployer(ctx)
    return DeployedResource(stack.stack_name, logical_id, resource_type, physical_id, attributes, props)


@dataclass
class ResourceContext:
    stack: StackArtifact
    logical_id: str
    type: str
    props: dict[str, Any]
    target: DeployTarget

    @property
    def account(self) -> str:
        return self.stack.account

    @property
    def region(self) -> str:
        return self.stack.region

    def client(self, service: str) -> Any:
        return self.target.client(service)

    def generated_name(self, max_length: int = 64, lower: bool = False) -> str:
        """A deterministic stand-in for CloudFormation's generated physical names."""
        name = f"{self.stack.stack_name}-{self.logical_id}"[:max_length]
        return name.lower() if lower else name

    def arn(self, service: str, resource: str, region: bool = True, account: bool = True) -> str:
        return (
            f"arn:aws:{service}:{self.region if region else ''}:{self.account if account else ''}:{resource}"
        )

    def tags(self, key: str = "Key", value: str = "Value") -> list[dict[str, str]]:
        return [{key: t["Key"], value: t["Value"]} for t in self.props.get("Tags", [])]


class _AnyAttribute(dict):
    """GetAtt values of a resource with no local counterpart: any attribute resolves to a stand-in."""

    def __init__(self, base: str, **known: Any) -> None:
        super().__init__(known)
        self.base = base

    def __contains__(self, key: object) -> bool:
        return True

    def __missing__(self, key: str) -> str:
        return f"{self.base}/{key}"


def _not_emulated(ctx: ResourceContext) -> DeployedResource:
    service = ctx.type.split("::")[1].lower()
    name = ctx.generated_name()
    attributes = _AnyAttribute(name, Arn=ctx.arn(service, name))
    return DeployedResource(
        ctx.stack.stack_name, ctx.logical_id, ctx.type, name, attributes, ctx.props, emulated=False
    )


# ----------------------------------------------------------------------------- resource types

Deployer = Callable[[ResourceContext], tuple[str, dict[str, Any]]]


def _kms_key(ctx: ResourceContext) -> tuple[str, dict[str, Any]]:
    kms = ctx.client("kms")
    args: dict[str, Any] = {
        "Description": ctx.props.get("Description", ""),
        "Tags": ctx.tags("TagKey", "TagValue"),
    }
    if "KeyPolicy" in ctx.props:
        args["Policy"] = json.dumps(ctx.props["KeyPolicy"])
    metadata = kms.create_key(**args)["KeyMetadata"]
    if ctx.props.get("EnableKeyRotation"):
        kms.enable_key_rotation(KeyId=metadata["KeyId"])
    return metadata["KeyId"], {"Arn": metadata["Arn"], "KeyId": metadata["KeyId"]}


def _kms_alias(ctx: ResourceContext) -> tuple[str, dict[str, Any]]:
    name = ctx.props["AliasName"]
    ctx.client("kms").create_alias(AliasName=name, TargetKeyId=ctx.props["TargetKeyId"])
    return name, {"Arn": ctx.arn("kms", name)}


def _bucket(ctx: ResourceContext) -> tuple[str, dict[str, Any]]:
    s3 = ctx.client("s3")
    name = ctx.props.get("BucketName") or ctx.generated_name(63, lower=True)
    args: dict[str, Any] = {
        "Bucket": name,
        "ObjectLockEnabledForBucket": bool(ctx.props.get("ObjectLockEnabled")),
    }
    if ctx.region != "us-east-1":
        args["CreateBucketConfiguration"] = {"LocationConstraint": ctx.region}
    s3.create_bucket(**args)
    _bucket_settings(s3, name, ctx.props)
    if ctx.props.get("Tags"):
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": ctx.tags()})
    _bucket_notifications(s3, name, ctx.props)
    attributes = {
        "Arn": f"arn:aws:s3:::{name}",
        "DomainName": f"{name}.s3.amazonaws.com",
        "RegionalDomainName": f"{name}.s3.{ctx.region}.amazonaws.com",
        "WebsiteURL": f"http://{name}.s3-website-{ctx.region}.amazonaws.com",
    }
    return name, attributes


def _bucket_settings(s3: Any, name: str, props: dict[str, Any]) -> None:
    versioning = props.get("VersioningConfiguration", {}).get("Status")
    if versioning or props.get("ObjectLockEnabled"):
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": versioning or "Enabled"})
    if "BucketEncryption" in props:
        rules = [
            {
                ("ApplyServerSideEncryptionByDefault" if k == "ServerSideEncryptionByDefault" else k): v
                for k, v in rule.items()
            }
            for rule in props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        ]
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
    lock = props.get("ObjectLockConfiguration")
    if lock:
        s3.put_object_lock_configuration(Bucket=name, ObjectLockConfiguration=lock)
    if "PublicAccessBlockConfiguration" in props:
        s3.put_public_access_block(
            Bucket=name, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"]
        )


def _bucket_notifications(s3: Any, name: str, props: dict[str, Any]) -> None:
    """EventBridge notifications (what the payment bridge's rules listen to) and lifecycle rules."""
    notifications = props.get("NotificationConfiguration", {})
    if notifications.get("EventBridgeConfiguration", {}).get("EventBridgeEnabled"):
        s3.put_bucket_notification_configuration(
            Bucket=name, NotificationConfiguration={"EventBridgeConfiguration": {}}
        )
    rules = props.get("LifecycleConfiguration", {}).get("Rules")
    if rules:
        s3.put_bucket_lifecycle_configuration(
            Bucket=name, LifecycleConfiguration={"Rules": [_lifecycle_rule(r) for r in rules]}
        )


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    converted: dict[str, Any] = {
        "Status": rule.get("Status", "Enabled"),
        "Filter": {"Prefix": rule.get("Prefix", "")},
    }
    if rule.get("Id"):
        converted["ID"] = rule["Id"]
    if "ExpirationInDays" in rule:
        converted["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
    if "NoncurrentVersionExpiration" in rule:
        days = rule["NoncurrentVersionExpiration"]["NoncurrentDays"]
        converted["NoncurrentVersionExpiration"] = {"NoncurrentDays": int(days)}
    if "AbortIncompleteMultipartUpload" in rule:
        days = rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"]
        converted["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": int(days)}
    return converted


def _bucket_policy(ctx: ResourceContext) -> tuple[str, dict[str, Any]]:
    bucket = ctx.props["Bucket"]
    ctx.client("s3").put_bucket_policy(Bucket=bucket, Policy=json.dumps(ctx.props["PolicyDocument"]))
    return f"{bucket}-policy", {}


def _table(ctx: ResourceContext) -> tuple[str, dict[str, Any]]:
    dynamodb = ctx.client("dynamodb")
    name = ctx.props.get("TableName") or ctx.generated_name(255)
    args: dict[str, Any] = {
        "TableName": name,
        "KeySchema": ctx.props["KeySchema"],
        "AttributeDefinitions": ctx.props["AttributeDefinitions"],
        "BillingMode": ctx.props.get("BillingMode", "PROVISIONED"),
    }
    if args["BillingMode"] == "PROVISIONED":
        args["ProvisionedThroughput"] = ctx.props.get(
            "ProvisionedThroughput", {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
        )
    if ctx.props.get("GlobalSecondaryIndexes"):
        args["GlobalSecondaryIndexes"] = ctx.props["GlobalSecondaryIndexes"]
    if ctx.props.get("StreamSpecification"):
        args["StreamSpecification"] = {"StreamEnabled": True, **ctx.props["StreamSpecification"]}
    sse = ctx.props.get("SSESpecification")
    if sse:
        args["SSESpecification"] = {
            k: v for k, v in sse.items() if k in ("Enabled", "SSEType", "KMSMasterKeyId")
        }
    if ctx.props.get("Tags"):
        args["Tags"] = ctx.tags()
    description = dynamodb.create_table(**args)["TableDescription"]
    ttl = ctx.props.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
    attributes = {"Arn": description["TableArn"]}
    if "LatestStreamArn" in description:
        attributes["StreamArn"] = description["LatestStreamArn"]
    return name, attributes


def _secret(ctx: ResourceContext) -> tuple[str, dict[str, Any]]:
    name = ctx.props.get("Name") or ctx.generated_name()
    args: dict[str, Any] = {"Name": name, "Description": ctx.props.get("Description", "")}
    if ctx.props.get("KmsKeyId"):
        args["KmsKeyId"] = ctx.props["KmsKeyId"]
    value = ctx.target.secret_values.get(name, ctx.props.get("SecretString"))
    if value is not None:
        args["SecretString"] = value
    arn = ctx.client("secretsmanager").create_secret(**args)["ARN"]
    return arn, {"Id": arn}


def _role(ctx: ResourceContext) -> tuple[str, dict[str, Any]]:
    iam = ctx.client("iam")
    name = ctx.props.get("RoleName") or ctx.generated_name()
    role = iam.create_role(
        RoleName=name,
        Path=ctx.props.get("Path", "/"),
        AssumeRolePolicyDocument=json.dumps(ctx.props["AssumeRolePolicyDocument"]),
        Description=ctx.props.get("Description", ""),
    )["Role"]
    for policy in ctx.props.get("Policies", []):
        iam.put_role_policy(
            RoleName=name,
            PolicyName=policy["PolicyName"],
            PolicyDocument=json.dumps(policy["PolicyDocument"]),
        )
    return name, {"Arn": role["Arn"], "RoleId": role["RoleId"]}


def _policy(ctx: ResourceContext) -> tuple[str, dict[str, Any]]:
    iam = ctx.client("iam")
    for role in ctx.props.get("Roles", []):
        iam.put_role_policy(
            RoleName=role,
            PolicyName=ctx.props["PolicyName"],
            PolicyDocument=json.dumps(ctx.props["PolicyDocument"]),
        )
    return ctx.props["PolicyName"], {}


def _log_group(ctx: ResourceContext) -> tuple[str, dict[str, Any]]:
    logs = ctx.client("logs")
    name = ctx.props.get("LogGroupName") or ctx.generated_name(512)
    logs.create_log_group(logGroupName=name)
    if ctx.props.get("RetentionInDays"):
        logs.put_retention_policy(logGroupName=name, retentionInDays=int(ctx.props["RetentionInDays"]))
    return name, {"Arn": ctx.arn("logs", f"log-group:{name}:*")}


def _function(ctx: ResourceContext) -> tuple[str, dict[str, Any]]:
    name = ctx.props.get("FunctionName") or ctx.generated_name()
    variables = {
        **ctx.props.get("Environment", {}).get("Variables", {}),
        **ctx.target.function_environment,
    }
    function = ctx.client("lambda").create_function(
        FunctionName=name,
        Runtime=ctx.props.get("Runtime", "python3.12"),
        Role=ctx.props["Role"],
        Handler=ctx.props["Handler"],
        Code={"ZipFile": _zip()},
        Description=ctx.props.get("Description", ""),
        Timeout=int(ctx.props.get("Timeout", 3)),
        MemorySize=int(ctx.props.get("MemorySize", 128)),
        Environment={"Variables": {k: str(v) for k, v in variables.items()}},
        Architectures=ctx.props.get("Architectures", ["x86_64"]),
        Tags={t["Key"]: t["Value"] for t in ctx.props.get("Tags", [])},
    )
    return name, {"Arn": function["FunctionArn"]}


def _state_machine(ctx: ResourceContext) -> tuple[str, dict[str, Any]]:
    name = ctx.props.get("StateMachineName") or ctx.generated_name(80)
    machine = ctx.client("stepfunctions").create_state_machine(
        name=name,
        definition=state_machine_definition(ctx.props),
        roleArn=ctx.props["RoleArn"],
        type=ctx.props.get("StateMachineType", "STANDARD"),
        tags=[{"key": t["Key"], "value": t["Value"]} for t in ctx.props.get("Tags", [])],
    )
    arn = machine["stateMachineArn"]
    return arn, {"Arn": arn, "Name": name, "StateMachineRevisionId": arn}


def state_machine_definition(props: dict[str, Any]) -> str:
    """The ASL of a resolved AWS::StepFunctions::StateMachine, DefinitionSubstitutions applied."""
    text = props["DefinitionString"] if "DefinitionString" in props else json.dumps(props["Definition"])
    for key, value in props.get("DefinitionSubstitutions", {}).items():
        text = text.replace("${" + key + "}", str(value))
    return text


def _state_machine_version(ctx: ResourceContext) -> tuple[str, dict[str, Any]]:
    sfn = ctx.client("stepfunctions")
    machine_arn = ctx.props["StateMachineArn"]
    definition = sfn.describe_state_machine(stateMachineArn=machine_arn)["definition"]
    published = sfn.update_state_machine(
        stateMachineArn=machine_arn,
        definition=definition,
        publish=True,
        versionDescription=ctx.props.get("Description", ""),
    )
    arn = published["stateMachineVersionArn"]
    return arn, {"Arn": arn}


def _state_machine_alias(ctx: ResourceContext) -> tuple[str, dict[str, Any]]:
    routing = [
        {"stateMachineVersionArn": r["StateMachineVersionArn"], "weight": int(r["Weight"])}
        for r in ctx.props["RoutingConfiguration"]
    ]
    alias = ctx.client("stepfunctions").create_state_machine_alias(
        name=ctx.props["Name"], description=ctx.props.get("Description", ""), routingConfiguration=routing
    )
    arn = alias["stateMachineAliasArn"]
    return arn, {"Arn": arn}


def _event_rule(ctx: ResourceContext) -> tuple[str, dict[str, Any]]:
    """An EventBridge rule and its targets (Lambda targets are delivered by `eventbridge.LocalEventBus`)."""
    events = ctx.client("events")
    name = ctx.props.get("Name") or ctx.generated_name()
    bus = ctx.props.get("EventBusName", "default")
    args: dict[str, Any] = {"Name": name, "EventBusName": bus, "State": ctx.props.get("State", "ENABLED")}
    if "EventPattern" in ctx.props:
        pattern = ctx.props["EventPattern"]
        args["EventPattern"] = pattern if isinstance(pattern, str) else json.dumps(pattern)
    if "ScheduleExpression" in ctx.props:
        args["ScheduleExpression"] = ctx.props["ScheduleExpression"]
    if ctx.props.get("Description"):
        args["Description"] = ctx.props["Description"]
    arn = events.put_rule(**args)["RuleArn"]
    targets = [
        {
            k: v
            for k, v in target.items()
            if k in ("Id", "Arn", "Input", "InputPath", "RetryPolicy", "RoleArn")
        }
        for target in ctx.props.get("Targets", [])
    ]
    if targets:
        events.put_targets(Rule=name, EventBusName=bus, Targets=targets)
    return name, {"Arn": arn}


def _lambda_permission(ctx: ResourceContext) -> tuple[str, dict[str, Any]]:
    statement_id = ctx.generated_name(100)
    args = {
        "FunctionName": ctx.props["FunctionName"],
        "StatementId": statement_id,
        "Action": ctx.props["Action"],
        "Principal": ctx.props["Principal"],
    }
    if ctx.props.get("SourceArn"):
        args["SourceArn"] = ctx.props["SourceArn"]
    ctx.client("lambda").add_permission(**args)
    return statement_id, {}


def _transfer_connector(ctx: ResourceContext) -> tuple[str, dict[str, Any]]:
    """A Transfer Family connector; locally its endpoint is the local SFTP server (`connector_endpoint`)."""
    sftp = dict(ctx.props.get("SftpConfig", {}))
    url = ctx.props["Url"]
    if ctx.target.connector_endpoint is not None:
        url, keys = ctx.target.connector_endpoint
        sftp["TrustedHostKeys"] = list(keys)
    args: dict[str, Any] = {"Url": url, "AccessRole": ctx.props["AccessRole"], "SftpConfig": sftp}
    if ctx.props.get("LoggingRole"):
        args["LoggingRole"] = ctx.props["LoggingRole"]
    if ctx.props.get("Tags"):
        args["Tags"] = ctx.tags()
    connector_id = ctx.client("transfer").create_connector(**args)["ConnectorId"]
    arn = ctx.arn("transfer", f"connector/{connector_id}")
    return connector_id, {"Arn": arn, "ConnectorId": connector_id}


DEPLOYERS: dict[str, Deployer] = {
    "AWS::KMS::Key": _kms_key,
    "AWS::KMS::Alias": _kms_alias,
    "AWS::S3::Bucket": _bucket,
    "AWS::S3::BucketPolicy": _bucket_policy,
    "AWS::DynamoDB::Table": _table,
    "AWS::SecretsManager::Secret": _secret,
    "AWS::IAM::Role": _role,
    "AWS::IAM::Policy": _policy,
    "AWS::Logs::LogGroup": _log_group,
    "AWS::Lambda::Function": _function,
    "AWS::StepFunctions::StateMachine": _state_machine,
    "AWS::StepFunctions::StateMachineVersion": _state_machine_version,
    "AWS::StepFunctions::StateMachineAlias": _state_machine_alias,
    "AWS::Events::Rule": _event_rule,
    "AWS::Lambda::Permission": _lambda_permission,
    "AWS::Transfer::Connector": _transfer_connector,
}
