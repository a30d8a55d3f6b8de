"""The embedded AWS deploys the program from cdk.out exactly: resources, resolved ASL, versions, accounts."""

from __future__ import annotations

import json

from tests.workflows import helpers
from wavectl.local.runner import start_wave
from wavectl.local.slack import LOCAL_BOT_TOKEN, LOCAL_SIGNING_SECRET


def _template(cloud_assembly, stack_file: str) -> dict:
    return json.loads((cloud_assembly / stack_file).read_text())


def test_deploy_creates_control_plane_from_cdk_out(local_cloud, example_runbook):
    # Given the example program deployed from its cloud assembly
    session = local_cloud.session

    # When the control plane's resources are read back from the tooling account
    table = session.client("dynamodb").describe_table(TableName="acme-to-globex-approvals")["Table"]
    evidence = next(b for b in local_cloud.resources.buckets if "evidence" in b)
    lock = session.client("s3").get_object_lock_configuration(Bucket=evidence)["ObjectLockConfiguration"]
    aliases = [a["AliasName"] for a in session.client("kms").list_aliases()["Aliases"]]
    secrets = session.client("secretsmanager")

    # Then they are there as the templates declare them, Slack secrets seeded for the local Slack
    assert [i["IndexName"] for i in table["GlobalSecondaryIndexes"]] == ["by-status"]
    assert lock["Rule"]["DefaultRetention"]["Mode"] == "GOVERNANCE"
    assert "alias/acme-to-globex-wavectl" in aliases
    slack = example_runbook.program.slack
    assert secrets.get_secret_value(SecretId=slack.bot_token)["SecretString"] == LOCAL_BOT_TOKEN
    assert secrets.get_secret_value(SecretId=slack.signing_secret)["SecretString"] == LOCAL_SIGNING_SECRET


def test_functions_keep_handler_and_resolved_environment(local_cloud):
    # Given the orders-db guard function deployed from the wave's template
    config = local_cloud.session.client("lambda").get_function_configuration(
        FunctionName="acme-to-globex-orders-db-guard"
    )
    variables = config["Environment"]["Variables"]

    # Then it runs the template's handler, with cross-stack imports resolved to the deployed names
    assert config["Handler"] == "tasks.frame.handler.guard"
    assert variables["WAVECTL_EVIDENCE_BUCKET"] in local_cloud.resources.buckets
    key = local_cloud.resources.of_type("AWS::KMS::Key")[0]
    assert variables["WAVECTL_KMS_KEY"] == key.arn
    assert variables["WAVECTL_SLACK_API_URL"].startswith("http://127.0.0.1:")


def test_state_machine_runs_the_template_asl_with_real_arns(local_cloud, cloud_assembly):
    # Given the template of the orders-db wave
    template = _template(cloud_assembly, "Wave-orders-db.template.json")
    machine = next(
        r
        for r in template["Resources"].values()
        if r["Type"] == "AWS::StepFunctions::StateMachine"
        and r["Properties"].get("StateMachineName") == "acme-to-globex-orders-db"
    )
    literal_parts = [
        p for p in machine["Properties"]["DefinitionString"]["Fn::Join"][1] if isinstance(p, str)
    ]

    # When the deployed definition is read back
    arn = local_cloud.resources.state_machines["acme-to-globex-orders-db"]
    definition = local_cloud.session.client("stepfunctions").describe_state_machine(stateMachineArn=arn)[
        "definition"
    ]

    # Then it is the template's text with every intrinsic replaced by a deployed ARN
    assert all(part in definition for part in literal_parts)
    assert "Fn::" not in definition
    resources = {s.get("Resource") for s in json.loads(definition)["States"].values()}
    guard = "arn:aws:lambda:eu-west-1:111111111111:function:acme-to-globex-orders-db-guard"
    assert guard in resources


def test_live_alias_points_at_the_published_version(local_cloud, cloud_assembly):
    # Given the version the template publishes (its description carries runbook version and digest)
    template = _template(cloud_assembly, "Wave-orders-db.template.json")
    version = next(
        r
        for r in template["Resources"].values()
        if r["Type"] == "AWS::StepFunctions::StateMachineVersion"
        and r["Properties"]["Description"].startswith("orders-db v")  # not its per-database workflow
    )
    sfn = local_cloud.session.client("stepfunctions")
    arn = local_cloud.resources.state_machines["acme-to-globex-orders-db"]

    # When a wave is started the way a user starts it (on the alias)
    execution = start_wave(local_cloud.session, local_cloud.runbook, "orders-db", "U01ALICE")
    alias = sfn.describe_state_machine_alias(stateMachineAliasArn=f"{arn}:live")
    described = sfn.describe_execution(executionArn=execution)

    # Then the alias routes 100% to version 1, described as in the template, and the execution records it
    assert alias["routingConfiguration"] == [{"stateMachineVersionArn": f"{arn}:1", "weight": 100}]
    assert (
        sfn.describe_state_machine(stateMachineArn=f"{arn}:1")["description"]
        == version["Properties"]["Description"]
    )
    assert described["stateMachineVersionArn"] == f"{arn}:1"
    assert described["stateMachineAliasArn"] == f"{arn}:live"
    assert json.loads(described["input"]) == {"requested_by": "U01ALICE"}


def test_tasks_reach_source_and_target_through_the_runbook_roles(local_cloud, example_runbook):
    # Given the program's accounts
    accounts = example_runbook.program.accounts

    # When sessions are taken through sts:AssumeRole of the runbook's roles (as tasks do)
    source = local_cloud.source_session()
    target = local_cloud.target_session()

    # Then each acts in its own account, and sees that account's estate only
    assert source.client("sts").get_caller_identity()["Account"] == accounts.source.id
    assert target.client("sts").get_caller_identity()["Account"] == accounts.target.id
    source_buckets = {b["Name"] for b in source.client("s3").list_buckets()["Buckets"]}
    tooling_buckets = {b["Name"] for b in local_cloud.session.client("s3").list_buckets()["Buckets"]}
    assert "acme-payments-outbound" in source_buckets
    assert "acme-payments-outbound" not in tooling_buckets
    assert source.client("rds").describe_db_instances()["DBInstances"]


def test_demo_estate_has_dns_alarms_and_payment_files(local_cloud):
    # Given the seeded source estate
    source = local_cloud.account_session(local_cloud.accounts.source)

    # When its DNS, alarms and payment files are listed
    zones = source.client("route53").list_hosted_zones()["HostedZones"]
    zone_id = zones[0]["Id"]
    records = source.client("route53").list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    weights = {r["SetIdentifier"]: r["Weight"] for r in records if r.get("SetIdentifier")}
    alarms = source.client("cloudwatch").describe_alarms()["MetricAlarms"]
    files = source.client("s3").list_objects_v2(Bucket="acme-payments-outbound")["Contents"]

    # Then the api record is all on the old target, alarms are OK, and the dual run's business days
    # (required clean cycles + shadow cycles) of settled-payment files exist
    assert zones[0]["Name"] == "acme-invest.example."
    assert weights == {"acme": 100, "globex": 0}
    assert {(a["AlarmName"], a["StateValue"]) for a in alarms} == {
        ("api-5xx-rate", "OK"),
        ("api-p99-latency", "OK"),
    }
    payments = local_cloud.runbook.wave("payments-dual-run").payments
    assert len(files) == payments.required_clean_cycles + payments.shadow_cycles


def test_invoke_function_runs_the_handler_in_process_with_its_environment(local_cloud):
    # Given a function deployed next to the program's
    lambda_ = local_cloud.session.client("lambda")
    role = local_cloud.resources.of_type("AWS::IAM::Role")[0].arn
    helpers.CALLS.clear()
    lambda_.create_function(
        FunctionName="helper",
        Runtime="python3.12",
        Role=role,
        Handler="tests.workflows.helpers.not_ready_twice",
        Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18},
    )

    # When it is invoked until it stops raising
    from wavectl.local.engine import FunctionFailed

    errors = []
    for _ in range(2):
        try:
            local_cloud.invoke_function("helper", {"n": 1})
        except FunctionFailed as exc:
            errors.append(exc.error_type)
    result = local_cloud.invoke_function("helper", {"n": 1})

    # Then its exceptions surfaced as named function errors, then its result came back
    assert errors == ["Wavectl.NotReady", "Wavectl.NotReady"]
    assert result == {"attempts": 3, "function": "helper"}


def test_loopback_guard_refuses_real_endpoints(loopback_only):
    # Given the guard every workflow test runs under
    import socket

    import pytest

    from tests.workflows.conftest import NonLocalConnection

    # When something tries to reach a real AWS endpoint address
    with pytest.raises(NonLocalConnection), socket.socket() as sock:
        sock.connect(("52.94.236.248", 443))
    # Then it is refused before any packet leaves, and recorded
    assert loopback_only == ["52.94.236.248"]


def test_one_item_read_and_written_from_many_threads_stays_consistent(local_cloud):
    # Given the approvals table, as a gate's request (writer) and the runner's poll (reader) share it
    import threading

    table = local_cloud.runbook.approvals_table_name()
    dynamodb = local_cloud.session.client("dynamodb")
    key = {"pk": {"S": "approval#apr_race"}, "sk": {"S": "approval"}}
    dynamodb.put_item(
        TableName=table, Item={**key, "approval_id": {"S": "apr_race"}, "status": {"S": "pending"}}
    )
    errors: list[BaseException] = []

    def write() -> None:
        client = local_cloud.session.client("dynamodb")
        try:
            for i in range(300):
                client.update_item(
                    TableName=table,
                    Key=key,
                    UpdateExpression=f"SET extra_{i} = :v",
                    ExpressionAttributeValues={":v": {"S": "x"}},
                )
        except BaseException as exc:
            errors.append(exc)

    # When one thread adds attributes while another reads the item with a projection
    writer = threading.Thread(target=write)
    writer.start()
    reads = 0
    try:
        while writer.is_alive():
            dynamodb.get_item(
                TableName=table,
                Key=key,
                ProjectionExpression="approval_id, #s",
                ExpressionAttributeNames={"#s": "status"},
            )
            reads += 1
    except RuntimeError as exc:
        errors.append(exc)
    writer.join()

    # Then no call failed and the item holds every write
    assert errors == []
    item = dynamodb.get_item(TableName=table, Key=key)["Item"]
    assert sum(name.startswith("extra_") for name in item) == 300
    assert reads > 0
