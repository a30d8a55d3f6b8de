"""Fixtures for the approval task tests: moto (table, evidence bucket, secrets), the local Slack
stand-in on 127.0.0.1, a recording Step Functions client, and Slack-signed interaction events."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import boto3
import pytest
from moto import mock_aws
from moto.core.botocore_stubber import BotocoreStubber

from tasks import contracts as c
from tasks.approvals import approver_role, callback, request
from tasks.approvals.decisions import Services
from tasks.common.logging import logger
from tasks.contracts import STATUS_INDEX_ATTRIBUTES
from wavectl.local.patches import serialised_stub
from wavectl.local.slack import LOCAL_BOT_TOKEN, LOCAL_SIGNING_SECRET, LocalSlack

REGION = "eu-west-1"
TABLE, BUCKET = "wavectl-approvals", "wavectl-evidence"
SIGNING, BOT = "wavectl/slack/signing", "wavectl/slack/bot"
CHANNEL = "C0MIGRATION"
ARN = "arn:aws:sts::123456789012:assumed-role/WavectlApprover/"
GROUPS = {
    "platform": [
        {
            "slack": "U01ALICE",
            "name": "alice",
            "iam": [ARN + "alice"],
        },
        {
            "slack": "U02BOB",
            "name": "bob",
            "iam": [ARN + "bob"],
        },
        {"slack": "U03CAROL", "name": "carol", "iam": []},
    ],
    "payments": [{"slack": "U04DAVE", "name": "dave", "iam": []}],
}
TOKEN_MARK = "SECRET-TASK-TOKEN"


@dataclass
class RecordingStepFunctions:
    """Stands in for the Step Functions client: records the task results the callback sends."""

    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    status: str = "RUNNING"  # what DescribeExecution says of the gate's execution

    def send_task_success(self, **kwargs: Any) -> dict:
        with self.lock:
            self.calls.append(("success", kwargs))
        return {}

    def send_task_failure(self, **kwargs: Any) -> dict:
        with self.lock:
            self.calls.append(("failure", kwargs))
        return {}

    def describe_execution(self, **kwargs: Any) -> dict:
        return {
            "stateMachineVersionArn": "arn:aws:states:eu-west-1:123456789012:stateMachine:p-w:3",
            "status": self.status,
        }

    def describe_state_machine(self, **kwargs: Any) -> dict:
        return {"description": "w v3 sha256:" + "ab" * 32}


@dataclass
class ApprovalWorld:
    session: boto3.Session
    slack: LocalSlack
    sfn: RecordingStepFunctions
    services: Services

    def open_gate(self, gate: str = "go", requested_by: str | None = "U01ALICE", **policy: Any) -> str:
        event = gate_event(gate=gate, requested_by=requested_by, **policy)
        return request.open_gate(event, self.services, now())["approval_id"]

    def click(self, approval_id: str, user: str, action: str = "approve", **signing: Any) -> dict:
        return callback.handler(interaction_event(approval_id, user, action, self.slack, **signing), None)

    def record(self, approval_id: str) -> dict[str, Any]:
        return self.services.store.get(approval_id) or {}

    def evidence(self) -> list[str]:
        s3 = self.session.client("s3")
        objects = s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])
        return [s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read().decode() for o in objects]


def now():
    from datetime import UTC, datetime

    return datetime.now(UTC)


def gate_event(gate: str = "go", requested_by: str | None = "U01ALICE", **policy: Any) -> dict[str, Any]:
    return {
        "action": "request",
        "task_token": f"{TOKEN_MARK}-{gate}-" + "x" * 40,
        "gate": gate,
        "wave": {"name": "orders-db", "kind": "db-snapshot-copy", "version": 3},
        "policy": {"group": "platform", "required": 2, "timeout": 3600, "escalate_to": "payments", **policy},
        "execution": "arn:aws:states:eu-west-1:123456789012:execution:p-orders-db:run-1",
        "state_machine": "arn:aws:states:eu-west-1:123456789012:stateMachine:p-orders-db",
        "execution_input": {"requested_by": requested_by},
        "requested_by": requested_by,
        "requested_by_source": "input",
        "summary": "Copy orders and ledger to the Globex account",
        # most tests exercise the rules on input identities; the verified default has its own tests
        "requester_policy": "unverified",
    }


def sign(body: str, timestamp: int, secret: str = LOCAL_SIGNING_SECRET) -> str:
    """The signature exactly as Slack documents it: v0=hex(HMAC-SHA256(secret, 'v0:ts:body'))."""
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def interaction_event(
    approval_id: str,
    user: str,
    action: str,
    slack: LocalSlack,
    *,
    age_seconds: int = 0,
    secret: str = LOCAL_SIGNING_SECRET,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    action_id = "wavectl_approve" if action == "approve" else "wavectl_reject"
    message = slack.messages(CHANNEL)[-1] if slack.messages(CHANNEL) else {"ts": "1.000001"}
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower()},
        "channel": {"id": CHANNEL},
        "container": {"type": "message", "channel_id": CHANNEL, "message_ts": message["ts"]},
        "response_url": slack.response_url(CHANNEL, message["ts"]),
        "actions": [
            {"action_id": action_id, "value": approval_id, "type": "button", "action_ts": str(time.time())}
        ],
    }
    body = urlencode({"payload": json.dumps(payload)})
    timestamp = int(time.time()) - age_seconds
    default_headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": str(timestamp),
        "X-Slack-Signature": sign(body, timestamp, secret) + ("" if age_seconds >= 0 else ""),
    }
    return {
        "resource": "/slack/interactions",
        "path": "/slack/interactions",
        "httpMethod": "POST",
        "headers": default_headers if headers is None else headers,
        "body": body,
        "isBase64Encoded": False,
        "requestContext": {"identity": {"sourceIp": "127.0.0.1"}},
    }


@dataclass
class LogCapture:
    """What the task logger emitted during one test, exactly as Lambda would print it (Powertools JSON,
    `extra` fields included)."""

    stream: io.StringIO

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def messages(self) -> list[str]:
        return [json.loads(line)["message"] for line in self.text.splitlines() if line.strip()]


@pytest.fixture(name="task_logs")
def task_logs_fixture() -> Iterator[LogCapture]:
    """A handler of our own on the (cached) task logger. capsys cannot be used: the cached Powertools
    logger keeps the stdout of the test that first created it, so later tests' lines never reach capsys."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger().registered_formatter)
    logger().addHandler(handler)
    try:
        yield LogCapture(stream)
    finally:
        logger().removeHandler(handler)


@pytest.fixture(name="world")
def world_fixture(monkeypatch: pytest.MonkeyPatch) -> Iterator[ApprovalWorld]:
    slack = LocalSlack().start()
    # moto is not thread-safe (a DynamoDB item iterated while another click updates it); DynamoDB is.
    # Concurrent clicks go through one lock per moto request, as in the embedded AWS (wavectl.local.patches).
    monkeypatch.setattr(BotocoreStubber, "__call__", serialised_stub(BotocoreStubber.__call__))
    with mock_aws():
        session = boto3.Session(region_name=REGION)
        _create_resources(session)
        for name, value in {
            c.ENV_APPROVALS_TABLE: TABLE,
            c.ENV_EVIDENCE_BUCKET: BUCKET,
            c.ENV_SLACK_CHANNEL: CHANNEL,
            c.ENV_SLACK_SIGNING_SECRET: SIGNING,
            c.ENV_SLACK_BOT_TOKEN_SECRET: BOT,
            c.ENV_SLACK_API_URL: slack.base_url,
            c.ENV_APPROVERS: json.dumps(GROUPS),
            c.ENV_KMS_KEY: "",
            "AWS_REGION": REGION,
        }.items():
            monkeypatch.setenv(name, value)
        sfn = RecordingStepFunctions()
        services = Services(
            store=request.services(session).store,
            sfn=sfn,
            s3=session.client("s3"),
            groups=request.config.groups(),
            iam=session.client("iam"),
        )
        monkeypatch.setattr(callback, "make_services", lambda **clients: services)
        monkeypatch.setattr(approver_role, "_cache", {})
        try:
            yield ApprovalWorld(session=session, slack=slack, sfn=sfn, services=services)
        finally:
            slack.stop()


def _create_resources(session: boto3.Session) -> None:
    session.client("dynamodb").create_table(
        TableName=TABLE,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": name, "AttributeType": "S"} for name in ("pk", "sk", "status", "expires_at")
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": c.APPROVALS_STATUS_INDEX,
                "KeySchema": [
                    {"AttributeName": "status", "KeyType": "HASH"},
                    {"AttributeName": "expires_at", "KeyType": "RANGE"},
                ],
                # as stacks/control_plane.py projects it: no task token in the index
                "Projection": {
                    "ProjectionType": "INCLUDE",
                    "NonKeyAttributes": list(STATUS_INDEX_ATTRIBUTES),
                },
            }
        ],
    )
    s3 = session.client("s3")
    s3.create_bucket(
        Bucket=BUCKET,
        CreateBucketConfiguration={"LocationConstraint": REGION},
        ObjectLockEnabledForBucket=True,
    )
    session.client("iam").create_role(
        RoleName="WavectlApprover", AssumeRolePolicyDocument=json.dumps(approver_trust(pinned=True))
    )
    secrets = session.client("secretsmanager")
    secrets.create_secret(Name=SIGNING, SecretString=LOCAL_SIGNING_SECRET)
    secrets.create_secret(Name=BOT, SecretString=LOCAL_BOT_TOKEN)
    from tasks.approvals import config

    config._secrets.clear()


def approver_trust(pinned: bool) -> dict[str, Any]:
    """The approver role's trust policy: pinned as the control plane writes it, or the open variant."""
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
        "Action": "sts:AssumeRole",
    }
    if pinned:
        statement["Condition"] = {"StringEquals": {"sts:RoleSessionName": "${aws:username}"}}
    return {"Version": "2012-10-17", "Statement": [statement]}
