"""The payment bridge end to end in the embedded AWS: files dropped into inbound, never a handler call.

inbound --EventBridge--> ingest --> outbound chunks + manifest --EventBridge--> transfer
--StartFileTransfer--> real SFTP to the local server --> counterparty --> acknowledgements
--StartDirectoryListing / retrieve--> acknowledgement bucket --EventBridge--> acks index.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import time

import pytest

from tasks.contracts import BRIDGE_INBOUND_RULE, bridge_resource_name
from tests.conftest import EVENTS
from tests.unit.test_payment_pipeline import EXPECTED
from wavectl.local.engine import LocalCloud
from wavectl.local.sftp_server import new_key, public_line

PAYMENTS = EVENTS / "payments"
GOOD_FILES = [
    "acme-pain001-001-03.xml",
    "acme-pain001-001-09.xml",
    "acme-payments-2026-11-30.csv",
    "acme-payments-2026-11-30.jsonl",
]
SETTLE_SECONDS = 60


@pytest.fixture
def bridge_cloud(example_runbook, cloud_assembly):
    cloud = LocalCloud(example_runbook, cloud_assembly, seed_estate=False).start()
    yield cloud
    cloud.stop()


class Bridge:
    """What a test sees of the bridge: its buckets, table and the far side."""

    def __init__(self, cloud: LocalCloud) -> None:
        self.cloud = cloud
        settings = cloud.runbook.program.payment_bridge
        self.buckets = settings.buckets
        self.remote = settings.remote_directories
        self.s3 = cloud.session.client("s3")
        self.table = bridge_resource_name(cloud.runbook.program.program, "state")

    def drop(self, name: str, body: bytes | None = None, key: str | None = None) -> str:
        key = key or f"extracts/2026-11-30/{name}"
        data = body if body is not None else (PAYMENTS / name).read_bytes()
        self.s3.put_object(Bucket=self.buckets.inbound.name, Key=key, Body=data)
        return key

    def settle(self, acknowledgements: bool = False) -> None:
        """Wait for every delivery; with `acknowledgements`, for the counterparty and the ack poll too."""
        assert self.cloud.events.wait_idle(SETTLE_SECONDS)
        if acknowledgements:
            assert self.cloud.bridge.counterparty.wait_idle(SETTLE_SECONDS)
            self.cloud.bridge.poll_now(self.cloud)
            time.sleep(0.2)
            assert self.cloud.events.wait_idle(SETTLE_SECONDS)

    def objects(self, bucket: str, prefix: str = "") -> dict[str, bytes]:
        listed = self.s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
        return {o["Key"]: self.s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listed}

    def versions(self, bucket: str) -> int:
        return len(self.s3.list_object_versions(Bucket=bucket).get("Versions", []))

    def manifests(self) -> dict[str, dict]:
        return {
            key: json.loads(body)
            for key, body in self.objects(self.buckets.outbound.name).items()
            if key.endswith("/manifest.json")
        }

    def manifest_for(self, name: str) -> tuple[str, dict]:
        (found,) = [(k, m) for k, m in self.manifests().items() if k.split("/")[-2].startswith(name + ".")]
        return found

    def deliveries(self) -> dict[str, dict]:
        items = self.cloud.session.client("dynamodb").scan(TableName=self.table)["Items"]
        return {
            i["file"]["S"]: {k: next(iter(v.values())) for k, v in i.items()}
            for i in items
            if i["pk"]["S"].startswith("delivery#")
        }

    def received_on_sftp(self) -> dict[str, bytes]:
        folder = self.cloud.bridge.server.root / self.remote.outbound.strip("/")
        return {p.name: p.read_bytes() for p in sorted(folder.glob("*")) if p.is_file()}


def rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode(), newline="")))


def quarantine_reasons(bridge: Bridge, batch: str) -> list[tuple[str, str]]:
    entries = []
    for key, body in sorted(bridge.objects(bridge.buckets.quarantine.name, batch + "/").items()):
        if key.rsplit("/", 1)[-1].startswith("records-"):
            entries += [(e["location"], e["reason"]) for e in map(json.loads, body.decode().splitlines())]
    return entries


def test_bridge_sends_every_fixture_to_the_new_owner_and_brings_acknowledgements_back(bridge_cloud):
    bridge = Bridge(bridge_cloud)
    # Given the four good fixtures (pain.001.001.03, .09, CSV, JSON Lines), each with invalid records
    # When each is dropped into inbound, as the extract or the Kubernetes writer would
    for name in GOOD_FILES:
        bridge.drop(name)
    bridge.settle(acknowledgements=True)

    chunks: dict[str, bytes] = {}
    for name in GOOD_FILES:
        key, manifest = bridge.manifest_for(name)
        batch = key.rsplit("/", 1)[0]
        # Then each file balances: records in = out + quarantined, sums over the records out
        assert manifest["records_in"] == manifest["records_out"] + manifest["records_quarantined"]
        out = {k: v for k, v in bridge.objects(bridge.buckets.outbound.name, batch + "/").items()}
        file_rows = [r for c in manifest["chunks"] for r in rows(out[f"{batch}/{c['name']}"])]
        # And the outputs and the quarantine are exactly what the pipeline promises for that file
        assert [r["end_to_end_id"] for r in file_rows] == EXPECTED[name]["out"]
        assert manifest["sum_minor_by_currency"] == EXPECTED[name]["sums"]
        assert quarantine_reasons(bridge, batch) == EXPECTED[name]["quarantined"]
        chunks |= {c["name"]: out[f"{batch}/{c['name']}"] for c in manifest["chunks"]}

    # And the SFTP server received exactly the output chunks, byte for byte (no manifests, no extras)
    assert bridge.received_on_sftp() == chunks
    # And every chunk is recorded as delivered with its sha256, and acknowledged
    deliveries = bridge.deliveries()
    assert sorted(deliveries) == sorted(chunks)
    for name, data in chunks.items():
        assert deliveries[name]["status"] == "delivered"
        assert deliveries[name]["sha256"] == hashlib.sha256(data).hexdigest()
        assert deliveries[name]["acknowledged_by"] == name.rsplit(".", 1)[0] + ".ack.csv"
    # And one acknowledgement per chunk came back into the acknowledgement bucket, indexed as valid
    received = bridge.objects(bridge.buckets.acknowledgements.name, "received/")
    assert sorted(k.split("/")[-1] for k in received) == sorted(
        n.rsplit(".", 1)[0] + ".ack.csv" for n in chunks
    )
    for key, body in received.items():
        index = json.loads(
            bridge.objects(bridge.buckets.acknowledgements.name, "index/")[f"index/{key.split('/')[-1]}.json"]
        )
        assert index["status"] == "valid"
        assert index["rows"] == len(rows(body)) == len(rows(chunks[index["chunk_stem"] + ".csv"]))


def test_bridge_redelivered_events_send_nothing_twice(bridge_cloud):
    bridge = Bridge(bridge_cloud)
    # Given a file that went through the bridge
    bridge.drop("acme-payments-2026-11-30.csv")
    bridge.settle()
    sent_before = list(bridge_cloud.bridge.server.received)
    outbound_versions = bridge.versions(bridge.buckets.outbound.name)
    transfers_before = len(bridge_cloud.transfer.results)
    inbound_event, manifest_event = (
        next(
            d.event
            for d in bridge_cloud.events.deliveries
            if d.rule == bridge_resource_name(bridge_cloud.runbook.program.program, rule)
        )
        for rule in (BRIDGE_INBOUND_RULE, "outbound")
    )
    # When EventBridge delivers the same S3 events again (at-least-once delivery)
    for event in (inbound_event, manifest_event):
        bridge_cloud.events.publish(event["account"], event["region"], event)
    bridge.settle()
    # Then no second output is written and nothing is transferred again
    assert bridge.versions(bridge.buckets.outbound.name) == outbound_versions
    assert len(bridge_cloud.transfer.results) == transfers_before
    assert bridge_cloud.bridge.server.received == sent_before
    assert all(d.error is None for d in bridge_cloud.events.deliveries)


UNUSABLE = {
    "truncated-pain001.xml": "truncated",
    "latin1-declared-utf8.xml": "wrong encoding",
    "wrong-header.csv": "header",
}


def test_bridge_quarantines_unusable_files_whole_and_the_next_file_still_flows(bridge_cloud):
    bridge = Bridge(bridge_cloud)
    # Given a truncated XML, a Latin-1 file declared UTF-8 and a CSV with a wrong header, then a good file
    for name in UNUSABLE:
        bridge.drop(name)
    bridge.drop("acme-payments-2026-11-30.jsonl")
    bridge.settle()
    for name, reason_part in UNUSABLE.items():
        # Then each unusable file is quarantined whole, with its reason, and nothing of it is sent
        key, manifest = bridge.manifest_for(name)
        batch = key.rsplit("/", 1)[0]
        quarantined = bridge.objects(bridge.buckets.quarantine.name, batch + "/")
        assert quarantined[f"{batch}/{name}"] == (PAYMENTS / name).read_bytes()
        reason = json.loads(quarantined[f"{batch}/file-quarantined.json"])["reason"]
        assert reason_part in reason.lower(), reason
        assert manifest["records_out"] == 0 and manifest["chunks"] == []
    # And the good file after them still reached the new owner, and only its chunks did
    _, good = bridge.manifest_for("acme-payments-2026-11-30.jsonl")
    assert sorted(bridge.received_on_sftp()) == sorted(c["name"] for c in good["chunks"])


def test_bridge_refuses_an_sftp_server_whose_host_key_is_not_pinned(bridge_cloud):
    bridge = Bridge(bridge_cloud)
    transfer = bridge_cloud.session.client("transfer")
    (connector,) = transfer.list_connectors()["Connectors"]
    config = transfer.describe_connector(ConnectorId=connector["ConnectorId"])["Connector"]["SftpConfig"]
    # Given the connector pins a host key the server does not have (a rotation done on one side only)
    transfer.update_connector(
        ConnectorId=connector["ConnectorId"],
        SftpConfig={"UserSecretId": config["UserSecretId"], "TrustedHostKeys": [public_line(new_key())]},
    )
    # When a payment file goes through the bridge
    bridge.drop("acme-payments-2026-11-30.jsonl")
    bridge.settle()
    # Then nothing reached the server: no login, no file
    assert bridge_cloud.bridge.server.logins == 0
    assert bridge.received_on_sftp() == {}
    # And every chunk is recorded as not delivered, with a clear reason
    deliveries = bridge.deliveries()
    assert deliveries and all(d["status"] == "failed" for d in deliveries.values())
    for delivery in deliveries.values():
        assert delivery["failure_code"] == "HOST_KEY_NOT_TRUSTED"
        assert "not among the connector's trusted host keys" in delivery["failure_message"]
        assert "nothing was sent" in delivery["failure_message"]


def test_bridge_switched_off_takes_no_file_in(bridge_cloud):
    bridge = Bridge(bridge_cloud)
    events = bridge_cloud.session.client("events")
    # Given the dual-run wave switched the bridge off (its inbound rule disabled)
    events.disable_rule(Name=bridge_resource_name(bridge_cloud.runbook.program.program, BRIDGE_INBOUND_RULE))
    # When a file lands in inbound
    bridge.drop("acme-payments-2026-11-30.csv")
    bridge.settle()
    # Then nothing is processed or sent
    assert bridge.manifests() == {}
    assert bridge.received_on_sftp() == {}
