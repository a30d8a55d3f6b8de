"""The transfer function's delivery claims against DynamoDB (moto): once per name and sha256."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from tasks.common.errors import VerificationFailed
from tasks.payments.transfer import FAILED, Chunk, claim, delivery_key

TABLE = "acme-to-globex-payment-bridge-state"


@pytest.fixture
def dynamodb():
    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-west-1")
        client.create_table(
            TableName=TABLE,
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


def chunk(sha: str = "a" * 64) -> Chunk:
    return Chunk(
        key="batch/f.csv.0123456789ab-00001.csv", records=2, sha256=sha, sum_minor_by_currency={"EUR": 10}
    )


def test_claim_lets_a_chunk_go_out_once(dynamodb):
    # Given a chunk claimed once
    assert claim(dynamodb, TABLE, "outbound", "batch/manifest.json", chunk())
    # When the same manifest event comes again
    # Then the same name with the same sha256 is not sent again
    assert not claim(dynamodb, TABLE, "outbound", "batch/manifest.json", chunk())


def test_claim_refuses_another_file_under_a_name_already_sent(dynamodb):
    # Given a chunk claimed
    claim(dynamodb, TABLE, "outbound", "batch/manifest.json", chunk())
    # When a different file with the same name comes
    # Then it is refused: the remote file would be silently replaced
    with pytest.raises(VerificationFailed, match="different file under the same name"):
        claim(dynamodb, TABLE, "outbound", "other/manifest.json", chunk(sha="b" * 64))


def test_claim_retries_a_chunk_whose_delivery_failed(dynamodb):
    # Given a chunk whose delivery failed
    claim(dynamodb, TABLE, "outbound", "batch/manifest.json", chunk())
    dynamodb.update_item(
        TableName=TABLE,
        Key=delivery_key(chunk().name),
        UpdateExpression="SET #s = :failed",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":failed": {"S": FAILED}},
    )
    # Then the next manifest event may send it again
    assert claim(dynamodb, TABLE, "outbound", "batch/manifest.json", chunk())


def test_send_batch_sends_nothing_of_a_batch_whose_chunk_changed_since_its_manifest(dynamodb):
    from tasks.payments.transfer import TransferSettings, send_batch
    from tests.tasks.test_payments_ingest import INBOUND, OUTBOUND, QUARANTINE, drop, run

    session = boto3.Session(region_name="eu-west-1")
    s3 = session.client("s3")
    for bucket in (INBOUND, OUTBOUND, QUARANTINE):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    # Given a batch the pipeline wrote, one of whose chunks was altered afterwards
    result = run(s3, drop(s3, "acme-payments-2026-11-30.csv"))
    batch = result["batch"]
    first = f"{batch}/{result['chunks'][0]}"
    altered = (
        s3.get_object(Bucket=OUTBOUND, Key=first)["Body"].read().replace(b"ACME-E2E-0001", b"ACME-E2E-9999")
    )
    s3.put_object(Bucket=OUTBOUND, Key=first, Body=altered)
    settings = TransferSettings(table=TABLE, connector_id="c-00000000000000000", remote_directory="/in")
    # When the transfer step gets the batch manifest
    with pytest.raises(VerificationFailed, match="sha256 differs"):
        send_batch(session, settings, OUTBOUND, result["manifest_key"])
    # Then no chunk of the batch was even claimed for sending
    assert dynamodb.scan(TableName=TABLE)["Items"] == []
