"""The bridge's inbound function against moto S3: outputs, quarantine, balance, and exactly-once output."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tasks.common.settings import function_environment
from tasks.contracts import (
    ENV_BRIDGE_OUTBOUND_BUCKET,
    ENV_BRIDGE_PIPELINE_SPEC,
    ENV_BRIDGE_QUARANTINE_BUCKET,
    ENV_KMS_KEY,
)
from tasks.payments import ingest as ingest_module
from tasks.payments.chunks import verify_batch
from tasks.payments.ingest import handler, ingest, object_of
from tasks.payments.pipeline import PipelineSettings
from tests.conftest import EVENTS

PAYMENTS = EVENTS / "payments"
INBOUND, OUTBOUND, QUARANTINE = "globex-bridge-inbound", "globex-bridge-outbound", "globex-bridge-quarantine"
SETTINGS = PipelineSettings(chunk_size=2, statuses={"SETTLED": "ACSC", "PDNG": "PDNG"})
REGION = "eu-west-1"


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        for bucket in (INBOUND, OUTBOUND, QUARANTINE):
            client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
            client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        yield client


def drop(s3: Any, fixture: str, key: str | None = None) -> dict[str, Any]:
    """Put a fixture into inbound; return the EventBridge event S3 would send for it."""
    key = key or f"extracts/2026-11-30/{fixture}"
    put = s3.put_object(Bucket=INBOUND, Key=key, Body=(PAYMENTS / fixture).read_bytes())
    event = copy.deepcopy(json.loads((PAYMENTS / "s3-object-created.json").read_text()))
    event["detail"]["object"].update(
        {"key": key, "etag": put["ETag"].strip('"'), "version-id": put["VersionId"]}
    )
    return event


def run(s3: Any, event: dict[str, Any], kms_key: str | None = None) -> dict[str, Any]:
    return ingest(s3, object_of(event), SETTINGS, outbound=OUTBOUND, quarantine=QUARANTINE, kms_key=kms_key)


def keys(s3: Any, bucket: str) -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []))


def object_versions(s3: Any, bucket: str) -> int:
    return len(s3.list_object_versions(Bucket=bucket).get("Versions", []))


def read_json(s3: Any, bucket: str, key: str) -> dict[str, Any]:
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def test_ingest_pain001_object_writes_balanced_chunks_and_quarantine(s3):
    # Given the pain.001.001.03 fixture (6 transactions, 3 invalid) dropped into inbound, KMS-encrypted out
    kms_key = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["Arn"]
    event = drop(s3, "acme-pain001-001-03.xml")
    # When the inbound function handles the event
    result = run(s3, event, kms_key=kms_key)
    # Then 3 records go out in chunks of at most 2, 3 are quarantined, and the batch balances
    assert result["status"] == "processed"
    assert (result["records_in"], result["records_out"], result["records_quarantined"]) == (6, 3, 3)
    batch = result["batch"]
    stem = batch.rsplit("/", 1)[-1]  # chunk names unique across batches: they share one SFTP directory
    assert keys(s3, OUTBOUND) == sorted(
        [
            f"{batch}/manifest.json",
            f"{batch}/{stem}-00001.csv",
            f"{batch}/{stem}-00001.csv.manifest.json",
            f"{batch}/{stem}-00002.csv",
            f"{batch}/{stem}-00002.csv.manifest.json",
        ]
    )
    manifest = read_json(s3, OUTBOUND, result["manifest_key"])
    assert manifest["sum_minor_by_currency"] == {"EUR": 625010}
    assert manifest["input"]["version_id"] == event["detail"]["object"]["version-id"]
    assert manifest["received_at"] == "2026-11-30T07:00:00Z"

    def read(name: str) -> bytes:
        return s3.get_object(Bucket=OUTBOUND, Key=f"{batch}/{name}")["Body"].read()

    assert verify_batch(manifest, read) == []
    # And each quarantined record carries its XPath and reason (quarantine files hold 2 records at most too)
    assert keys(s3, QUARANTINE) == [f"{batch}/records-00001.jsonl", f"{batch}/records-00002.jsonl"]
    quarantined = [
        *read_jsonl(s3, QUARANTINE, f"{batch}/records-00001.jsonl"),
        *read_jsonl(s3, QUARANTINE, f"{batch}/records-00002.jsonl"),
    ]
    assert [(r["location"], r["reason"].split(" ")[0]) for r in quarantined] == [
        ("/Document/CstmrCdtTrfInitn/PmtInf[1]/CdtTrfTxInf[3]", "creditor_iban"),
        ("/Document/CstmrCdtTrfInitn/PmtInf[2]/CdtTrfTxInf[1]", "amount"),
        ("/Document/CstmrCdtTrfInitn/PmtInf[2]/CdtTrfTxInf[2]", "duplicate"),
    ]
    # And outputs are encrypted with the program key
    head = s3.head_object(Bucket=OUTBOUND, Key=f"{batch}/{stem}-00001.csv")
    assert head["ServerSideEncryption"] == "aws:kms"


def read_jsonl(s3: Any, bucket: str, key: str) -> list[dict[str, Any]]:
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    return [json.loads(line) for line in body.splitlines()]


def test_ingest_redelivered_event_produces_no_second_output(s3):
    # Given a CSV object already processed once
    event = drop(s3, "acme-payments-2026-11-30.csv")
    first = run(s3, event)
    versions_out, versions_quarantine = object_versions(s3, OUTBOUND), object_versions(s3, QUARANTINE)
    # When EventBridge delivers the same event again
    second = run(s3, event)
    # Then nothing new is written anywhere, and the same batch is named
    assert first["status"] == "processed"
    assert second == {
        **{k: first[k] for k in ("batch", "outbound_bucket", "manifest_key")},
        "status": "already-processed",
    }
    assert object_versions(s3, OUTBOUND) == versions_out
    assert object_versions(s3, QUARANTINE) == versions_quarantine


def test_ingest_concurrent_delivery_writes_the_manifest_once(s3, monkeypatch):
    # Given a delivery that finished while a second one was already past its "manifest exists?" check
    event = drop(s3, "acme-payments-2026-11-30.jsonl")
    first = run(s3, event)
    monkeypatch.setattr(ingest_module, "_exists", lambda *_: False)
    # When the second delivery reaches its (conditional) manifest write
    second = run(s3, event)
    # Then it stops as already processed and the manifest has one version only
    assert second["status"] == "already-processed"
    versions = s3.list_object_versions(Bucket=OUTBOUND, Prefix=first["manifest_key"])["Versions"]
    assert len(versions) == 1


def test_ingest_new_version_of_the_same_key_is_a_new_batch(s3):
    # Given a file processed, then overwritten by a corrected extract under the same key
    first = run(s3, drop(s3, "acme-payments-2026-11-30.csv", key="extracts/day.csv"))
    second = run(s3, drop(s3, "acme-payments-2026-11-30.jsonl", key="extracts/day.csv"))
    # Then the new version is processed into its own batch
    assert second["status"] == "processed" and second["batch"] != first["batch"]
    assert second["batch"].startswith("extracts/day.csv.")


@pytest.mark.parametrize(
    ("fixture", "reason"),
    [
        ("truncated-pain001.xml", "not well-formed XML (truncated or damaged)"),
        ("latin1-declared-utf8.xml", "wrong encoding: the bytes are not in the encoding the XML declares"),
        ("wrong-header.csv", "wrong CSV header: missing columns end_to_end_id, amount"),
    ],
)
def test_ingest_unusable_file_is_quarantined_whole_and_the_next_file_flows(s3, fixture, reason):
    # Given an unusable file dropped into inbound
    bad = run(s3, drop(s3, fixture))
    # Then it is quarantined whole: the original and its reason, no output chunk, a balanced manifest
    assert bad["status"] == "processed" and bad["balanced"] is True
    assert bad["file_quarantined"].startswith(reason)
    assert bad["chunks"] == []
    assert keys(s3, QUARANTINE) == [f"{bad['batch']}/file-quarantined.json", f"{bad['batch']}/{fixture}"]
    assert (
        read_json(s3, QUARANTINE, f"{bad['batch']}/file-quarantined.json")["reason"]
        == bad["file_quarantined"]
    )
    assert keys(s3, OUTBOUND) == [bad["manifest_key"]]
    # And when the next good file arrives, it still flows
    good = run(s3, drop(s3, "acme-pain001-001-09.xml"))
    assert (good["records_out"], good["records_quarantined"]) == (2, 3)


def test_handler_reads_buckets_and_pipeline_settings_from_its_environment(s3):
    # Given the function's environment as the stack sets it
    environment = {
        ENV_BRIDGE_OUTBOUND_BUCKET: OUTBOUND,
        ENV_BRIDGE_QUARANTINE_BUCKET: QUARANTINE,
        ENV_BRIDGE_PIPELINE_SPEC: PipelineSettings(chunk_size=1000, output_format="jsonl").to_json(),
        ENV_KMS_KEY: "",
        "AWS_REGION": REGION,
    }
    event = drop(s3, "acme-payments-2026-11-30.jsonl")
    # When the Lambda entry point is invoked with the EventBridge event
    with function_environment(environment):
        result = handler(event, None)
    # Then it writes one JSON Lines chunk with every valid record
    assert result["chunks"] == [f"{result['batch'].rsplit('/', 1)[-1]}-00001.jsonl"]
    assert result["records_out"] == 3


def test_ingest_finds_an_object_whose_key_the_event_url_encoded(s3):
    # Given an object with a space in its key, announced with the key URL-encoded
    event = drop(s3, "acme-payments-2026-11-30.jsonl", key="extracts/day one.jsonl")
    event["detail"]["object"]["key"] = "extracts/day+one.jsonl"
    # When it is ingested / Then the object is read and processed
    result = run(s3, event)
    assert result["status"] == "processed" and result["records_out"] == 3
