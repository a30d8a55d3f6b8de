"""A cycle's file wait (tasks.payment_dual_run.waits) against a moto DynamoDB table: the races."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
import pytest
from moto import mock_aws

from tasks.payment_dual_run.waits import FileWaits, on_object_created, register_and_look

EXECUTION = "arn:aws:states:eu-west-1:111111111111:execution:acme-to-globex-payments-dual-run:run-1"
FILES = {"old": ("old-bucket", "settled/2026-11-30.csv"), "ack": ("acks", "daily/2026-11-30.ack.csv")}
NOW = datetime(2026, 11, 30, 6, tzinfo=UTC)


class Resumes:
    """Stands in for the Step Functions client: records SendTaskSuccess calls."""

    def __init__(self) -> None:
        self.calls: list[dict] = []

    def send_task_success(self, **kwargs) -> None:
        self.calls.append(kwargs)


@pytest.fixture
def waits():
    with mock_aws():
        dynamodb = boto3.resource("dynamodb", region_name="eu-west-1")
        table = dynamodb.create_table(
            TableName="approvals",
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
        yield FileWaits(table, Resumes())


def created(bucket: str, key: str) -> dict:
    return {"source": "aws.s3", "detail": {"bucket": {"name": bucket}, "object": {"key": key}}}


def test_file_wait_resumes_once_when_the_second_file_event_comes(waits):
    # Given a wait registered before either file arrived
    look = register_and_look(waits, EXECUTION, 1, FILES, "token-1", lambda *_: False, NOW)
    assert look == {"present": [], "resumed_now": False}

    # When the settlement file's event comes, then the acknowledgement's twice (a redelivery)
    first = on_object_created(waits, created(*FILES["old"]))
    second = on_object_created(waits, created(*FILES["ack"]))
    again = on_object_created(waits, created(*FILES["ack"]))

    # Then the second file resumed the wait once, with the token kept in the table
    assert [w["resumed"] for w in first + second + again] == [False, True, False]
    assert [c["taskToken"] for c in waits.sfn.calls] == ["token-1"]


def test_file_wait_resumes_at_registration_when_both_files_came_before_it(waits):
    # Given both files were there before the wait was registered (their events found no wait)
    assert on_object_created(waits, created(*FILES["old"])) == []

    # When the wait registers (it looks for the files itself)
    look = register_and_look(waits, EXECUTION, 1, FILES, "token-1", lambda *_: True, NOW)

    # Then it resumed at once, and a late redelivered event does not resume it again
    assert look == {"present": ["old", "ack"], "resumed_now": True}
    on_object_created(waits, created(*FILES["ack"]))
    assert len(waits.sfn.calls) == 1


def test_file_wait_registered_with_one_file_there_resumes_on_the_other_files_event(waits):
    # Given the settlement file came before the wait registered, the acknowledgement after
    register_and_look(waits, EXECUTION, 2, FILES, "token-2", lambda side, *_: side == "old", NOW)
    assert waits.sfn.calls == []

    # When the acknowledgement's event comes
    on_object_created(waits, created(*FILES["ack"]))

    # Then the wait resumed with both files named in its output
    (call,) = waits.sfn.calls
    assert call["taskToken"] == "token-2" and '"ready":true' in call["output"]


def test_file_wait_ignores_objects_nobody_waits_for(waits):
    # Given a registered wait
    register_and_look(waits, EXECUTION, 1, FILES, "token-1", lambda *_: False, NOW)
    # When another day's file arrives
    assert on_object_created(waits, created("acks", "daily/2026-12-01.ack.csv")) == []
    # Then nothing is resumed
    assert waits.sfn.calls == []
