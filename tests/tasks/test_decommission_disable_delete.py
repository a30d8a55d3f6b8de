"""Disable with the previous state recorded, restore to it, and delete only the approved inventory."""

from __future__ import annotations

import json

from tasks.decommission import delete, disable, inventory
from tests.tasks.decommission_support import SOURCE, session_for
from wavectl.local import estate_decommission as legacy

PREVIOUS_POLICY = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Sid": "Reports", "Effect": "Allow",
     "Principal": {"AWS": f"arn:aws:iam::{SOURCE}:root"}, "Action": "s3:GetObject",
     "Resource": "arn:aws:s3:::acme-legacy-reports/*"}]}, indent=1)  # fmt: skip


def memory_keeper():
    kept: dict[str, dict] = {}

    def keep(record):
        return kept.setdefault(record["id"], record)

    return keep


def test_disable_then_restore_puts_every_resource_back_as_it_was(estate):
    # Given a bucket with its own policy, a function with reserved concurrency 7, a running instance,
    # the orders database available, and the old load balancer with its listener
    s3 = estate.client("s3")
    s3.put_bucket_policy(Bucket="acme-legacy-reports", Policy=PREVIOUS_POLICY)
    before_policy = s3.get_bucket_policy(Bucket="acme-legacy-reports")["Policy"]
    lam = estate.client("lambda")
    lam.put_function_concurrency(FunctionName="acme-statement-renderer", ReservedConcurrentExecutions=7)
    elb = estate.client("elbv2")
    lb = estate.in_scope["api_lb"]
    listener_before = elb.describe_listeners(LoadBalancerArn=lb)["Listeners"][0]
    items = inventory.take(estate.reach, estate.spec)["items"]

    # When every resource is disabled
    records = disable.disable_all(estate.reach, items, memory_keeper())

    # Then each is off: instance stopped, database stopped, deny-all policy, concurrency 0, no listener
    instance_id = estate.in_scope["batch"].rsplit("/", 1)[-1]
    ec2 = estate.client("ec2")
    state = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]["State"][
        "Name"
    ]
    assert state in ("stopping", "stopped")
    assert estate.client("rds").describe_db_instances(DBInstanceIdentifier="orders")["DBInstances"][0][
        "DBInstanceStatus"] == "stopped"  # fmt: skip
    assert "WavectlDecommissionDenyAll" in s3.get_bucket_policy(Bucket="acme-legacy-reports")["Policy"]
    assert (
        lam.get_function_concurrency(FunctionName="acme-statement-renderer")["ReservedConcurrentExecutions"]
        == 0
    )
    assert elb.describe_listeners(LoadBalancerArn=lb)["Listeners"] == []

    # When restored from the records
    restored = disable.restore_all(estate.reach, records)

    # Then all is as before: running, available, the same policy byte for byte, concurrency 7, listener back
    assert all(r["restored"] for r in restored)
    state = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]["State"][
        "Name"
    ]
    assert state in ("pending", "running")
    assert estate.client("rds").describe_db_instances(DBInstanceIdentifier="orders")["DBInstances"][0][
        "DBInstanceStatus"] == "available"  # fmt: skip
    assert s3.get_bucket_policy(Bucket="acme-legacy-reports")["Policy"] == before_policy
    assert (
        lam.get_function_concurrency(FunctionName="acme-statement-renderer")["ReservedConcurrentExecutions"]
        == 7
    )
    (listener,) = elb.describe_listeners(LoadBalancerArn=lb)["Listeners"]
    assert (listener["Port"], listener["Protocol"], listener["DefaultActions"]) == (
        listener_before["Port"], listener_before["Protocol"], listener_before["DefaultActions"])  # fmt: skip


def test_a_retried_disable_keeps_the_first_recorded_state(estate):
    # Given a bucket without a policy, disabled once (the record says: no policy)
    keep = memory_keeper()
    items = [i for i in inventory.take(estate.reach, estate.spec)["items"] if i["type"] == "s3:bucket"]
    disable.disable_all(estate.reach, items, keep)

    # When the disable task is retried (it now reads the deny-all policy as "current")
    (record,) = disable.disable_all(estate.reach, items, keep)

    # Then the kept record is still the first one, and restoring removes the policy again
    assert record["previous"] == {"policy": None}
    disable.restore_all(estate.reach, [record])
    s3 = estate.client("s3")
    assert "Policy" not in _policy_or_none(s3)


def _policy_or_none(s3) -> dict:
    try:
        return s3.get_bucket_policy(Bucket="acme-legacy-reports")
    except s3.exceptions.ClientError:
        return {}


def test_delete_removes_only_the_approved_inventory_and_reports_what_appeared_later(estate):
    # Given the approved inventory, then a function tagged into scope after approval
    approved = inventory.take(estate.reach, estate.spec)["items"]
    late = legacy._function(session_for, SOURCE, "eu-west-1", "acme-late-addition",
                            {"wavectl:decommission": "acme-legacy"})  # fmt: skip

    # When deletion rounds run until done
    result = delete.delete_round(estate.reach, estate.spec, approved)
    rounds = 1
    while result["status"] != delete.STATUS_DONE:
        result = delete.delete_round(estate.reach, estate.spec, approved, result)
        rounds += 1
        assert rounds < 10

    # Then every approved resource is gone, each deletion with its time
    assert {d["id"] for d in result["deleted"]} == {i["id"] for i in approved}
    assert all(d["deleted_at"] for d in result["deleted"])
    assert inventory.read(estate.reach, estate.spec) == [
        i for i in inventory.read(estate.reach, estate.spec) if i["id"] == late
    ]
    # And the late addition is left and reported; the protected and out-of-scope resources survive
    assert result["left"] == [{"id": late, "type": "lambda:function", "name": "acme-late-addition",
                               "why": "appeared in scope after approval; not deleted"}]  # fmt: skip
    assert estate.client("lambda").get_function(FunctionName="acme-late-addition")
    assert estate.client("lambda").get_function(FunctionName="acme-kyc-check")
    assert estate.client("s3").head_bucket(Bucket="acme-audit-trail")
    assert estate.client("s3").head_bucket(Bucket="acme-ops-scratch")

    # And a further round is idempotent: nothing more deleted, the same report
    again = delete.delete_round(estate.reach, estate.spec, approved, result)
    assert again["status"] == delete.STATUS_DONE and again["deleted"] == result["deleted"]


def test_deletion_protection_is_switched_off_only_at_deletion(estate):
    # Given the sessions table is deletion-protected (as seeded)
    dynamodb = estate.client("dynamodb")
    assert dynamodb.describe_table(TableName="acme-sessions")["Table"]["DeletionProtectionEnabled"]
    items = inventory.take(estate.reach, estate.spec)["items"]
    approved = [i for i in items if i["type"] == "dynamodb:table"]

    # When disabled (no change for DynamoDB) it is still protected
    disable.disable_all(estate.reach, approved, memory_keeper())
    assert dynamodb.describe_table(TableName="acme-sessions")["Table"]["DeletionProtectionEnabled"]

    # When deleted, Then protection is turned off and the table goes
    result = delete.delete_round(estate.reach, estate.spec, approved)
    while result["status"] != delete.STATUS_DONE:
        result = delete.delete_round(estate.reach, estate.spec, approved, result)
    assert "acme-sessions" not in dynamodb.list_tables()["TableNames"]


def test_a_stop_whose_response_was_lost_counts_as_disabled_when_rds_refuses_the_retry(estate, monkeypatch):
    # Given RDS carries out StopDBInstance but its response is lost, so the SDK sends it again and RDS
    # refuses the repeat (the instance is no longer available) - what wavectl demo --chaos found
    from botocore.client import BaseClient

    real = BaseClient._make_api_call
    repeated: list[str] = []

    def lost_then_retried(self, operation, params):
        result = real(self, operation, params)
        if operation in ("StopDBInstance", "StartDBInstance") and operation not in repeated:
            repeated.append(operation)
            return real(self, operation, params)  # the retry: refused as an invalid state
        return result

    monkeypatch.setattr(BaseClient, "_make_api_call", lost_then_retried)
    items = [i for i in inventory.take(estate.reach, estate.spec)["items"] if i["type"] == "rds:db"]

    # When the database is disabled, then restored
    records = disable.disable_all(estate.reach, items, memory_keeper())
    rds = estate.client("rds")
    stopped = rds.describe_db_instances(DBInstanceIdentifier="orders")["DBInstances"][0]["DBInstanceStatus"]
    disable.restore_all(estate.reach, records)

    # Then both went through despite the refused repeats: stopped, then available again
    assert repeated == ["StopDBInstance", "StartDBInstance"]
    assert stopped == "stopped"
    assert rds.describe_db_instances(DBInstanceIdentifier="orders")["DBInstances"][0][
        "DBInstanceStatus"] in ("available", "starting")  # fmt: skip


def test_a_delete_whose_response_was_lost_counts_as_deleted_when_the_retry_finds_nothing(estate, monkeypatch):
    # Given S3 carries out DeleteBucket but its response is lost, and the SDK's retry gets NoSuchBucket
    from botocore.client import BaseClient

    real = BaseClient._make_api_call
    repeated: list[str] = []

    def lost_then_retried(self, operation, params):
        result = real(self, operation, params)
        if operation == "DeleteBucket" and not repeated:
            repeated.append(params["Bucket"])
            return real(self, operation, params)  # the retry: the bucket is gone already
        return result

    approved = inventory.take(estate.reach, estate.spec)["items"]
    buckets = {i["name"] for i in approved if i["type"] == "s3:bucket"}
    monkeypatch.setattr(BaseClient, "_make_api_call", lost_then_retried)

    # When the approved estate's deletion round runs
    result = delete.delete_round(estate.reach, estate.spec, approved)

    # Then it did not fail, and every bucket, the one whose retry found nothing included, is deleted
    assert repeated and repeated[0] in buckets
    assert buckets <= {d["name"] for d in result["deleted"]}
    assert not buckets & {b["Name"] for b in estate.client("s3").list_buckets()["Buckets"]}
