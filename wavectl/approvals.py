"""Approvals as the tool sees them: what each execution's gates decided, what is pending, and the
CLI fallback (`wavectl approve|reject`) when Slack is down.

Only reads the approvals table (boto3 + `tasks.contracts`), and never its task tokens: every read
names the attributes it needs (`tasks.contracts.RECORD_ATTRIBUTES`), so the token does not leave AWS.
Decisions are never taken here: the fallback sends an IAM-signed request to the approvals API,
whose callback function applies the same rules as a Slack click (group, four eyes, one vote per
person) and is the only one that may send the task result. The caller's identity is the one AWS
verified, not one the CLI claims.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

from tasks import contracts as c
from tasks.contracts import GATE_ATTRIBUTES, PENDING_ATTRIBUTES, RECORD_ATTRIBUTES, TOKEN_ATTRIBUTE, Decision

_deserializer = TypeDeserializer()


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _number(_deserializer.deserialize(value)) for key, value in item.items()}


def _number(value: Any) -> Any:
    if type(value).__name__ == "Decimal":
        return int(value) if value == int(value) else float(value)
    if isinstance(value, dict):
        return {k: _number(v) for k, v in value.items()}
    if isinstance(value, list | set):
        return [_number(v) for v in value]
    return value


def _query_all(client: Any, **kwargs: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    while True:
        page = client.query(**kwargs)
        items += [_plain(item) for item in page.get("Items", [])]
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def approval_record(session: boto3.Session, table_name: str, approval_id: str) -> dict[str, Any] | None:
    """The approval record without its task token (never fetched), or None."""
    response = session.client("dynamodb").get_item(
        TableName=table_name,
        Key={"pk": {"S": c.APPROVAL_PK_PREFIX + approval_id}, "sk": {"S": c.APPROVAL_SK}},
        ConsistentRead=True,
        **projection(RECORD_ATTRIBUTES),
    )
    item = response.get("Item")
    return None if item is None else _plain(item)


def _voters(record: dict[str, Any]) -> list[str]:
    votes = record.get("votes") or {}
    return sorted(votes, key=lambda user: (str(votes[user].get("at", "")), user))


def _vote_fields(vote: Any) -> dict[str, Any]:
    """A vote's time, channel and reason (what a reviewer reads next to the name)."""
    vote = vote if isinstance(vote, dict) else {}
    return {key: vote.get(key) for key in ("at", "via", "reason")}


def _status_entry(record: dict[str, Any]) -> dict[str, Any]:
    decision = record.get(c.APPROVAL_STATUS, Decision.PENDING)
    approvers = list(record.get(c.APPROVAL_APPROVERS) or _voters(record))
    entry = {
        "gate": record.get(c.APPROVAL_GATE),
        "decision": decision,
        "approvers": approvers,
        "decided_at": record.get(c.APPROVAL_DECIDED_AT),
        "approval_id": record.get(c.APPROVAL_ID),
        "requester": record.get(c.APPROVAL_REQUESTER),
        "requester_source": record.get("requester_source"),
        "required": c.required_approvals(record[c.APPROVAL_POLICY])
        if record.get(c.APPROVAL_POLICY)
        else None,
    }
    votes = record.get("votes") or {}
    entry["votes"] = [{"user": user, **_vote_fields(votes[user])} for user in _voters(record)]
    entry["expires_at"] = record.get(c.APPROVAL_EXPIRES_AT)
    entry["policy"] = record.get(c.APPROVAL_POLICY)
    if decision == Decision.REJECTED:
        entry["rejected_by"] = record.get(c.APPROVAL_REJECTED_BY)
        entry["reason"] = record.get(c.APPROVAL_REASON)
    if record.get(c.APPROVAL_EVIDENCE_KEY):
        entry["evidence"] = record[c.APPROVAL_EVIDENCE_KEY]
    return entry


def execution_records(session: boto3.Session, table_name: str, execution_arn: str) -> list[dict[str, Any]]:
    """The approval records (without task tokens) of every gate of one execution, in the order the
    gates were reached."""
    index = _query_all(
        session.client("dynamodb"),
        TableName=table_name,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": c.EXECUTION_PK_PREFIX + execution_arn}},
        ConsistentRead=True,
        **projection(GATE_ATTRIBUTES),
    )
    records = []
    for gate in sorted(index, key=lambda item: item.get(c.APPROVAL_CREATED_AT, "")):
        record = approval_record(session, table_name, gate[c.APPROVAL_ID])
        if record is not None:
            records.append(record)
    return records


def decisions_for_execution(session: boto3.Session, table_name: str, execution_arn: str) -> list[dict]:
    """status.json entries of every gate of one execution, in the order the gates were reached.

    Each: {"gate", "decision": approved|rejected|timed_out|pending, "approvers": [Slack ids],
    "decided_at"} plus "approval_id", "requester", "requester_source" (cloudtrail|input|unknown),
    "required", "votes" ([{"user", "at", "via", "reason"}] in the order they came), "expires_at",
    "policy", and for a rejection "rejected_by" and "reason".
    """
    return [_status_entry(record) for record in execution_records(session, table_name, execution_arn)]


def pending(session: boto3.Session, table_name: str) -> list[dict[str, Any]]:
    """Open approvals across all waves, soonest deadline first (the index holds no task tokens)."""
    read = projection(PENDING_ATTRIBUTES)
    items = _query_all(
        session.client("dynamodb"),
        TableName=table_name,
        IndexName=c.APPROVALS_STATUS_INDEX,
        KeyConditionExpression="#s = :pending",
        ProjectionExpression=read["ProjectionExpression"],
        ExpressionAttributeNames={"#s": c.APPROVAL_STATUS, **read["ExpressionAttributeNames"]},
        ExpressionAttributeValues={":pending": {"S": Decision.PENDING.value}},
    )
    return sorted(items, key=lambda item: item.get(c.APPROVAL_EXPIRES_AT, ""))


def running_gate(session: boto3.Session, runbook: Any, wave: str, gate: str) -> tuple[str, str] | None:
    """(execution ARN, approval id) of `gate` in the wave's running execution, or None."""
    sfn = session.client("stepfunctions")
    arn = runbook.state_machine_arn(wave)
    for execution in sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING")["executions"]:
        for record in execution_records(session, runbook.approvals_table_name(), execution["executionArn"]):
            if record.get(c.APPROVAL_GATE) == gate:
                return execution["executionArn"], record[c.APPROVAL_ID]
    return None


def slack_state(item: dict[str, Any]) -> str:
    """Whether a pending approval's Slack message exists: `posted`, `NOT POSTED` (every attempt
    failed: approvers do not know; the sweeper retries, `wavectl approve` works) or `posting`."""
    if item.get("message_ts"):
        return "posted"
    return "NOT POSTED" if item.get("post_error") else "posting"


# ----------------------------------------------------------------------------- CLI fallback


@dataclass(frozen=True)
class Approver:
    slack: str
    name: str | None


def caller_arn(session: boto3.Session) -> str:
    return session.client("sts").get_caller_identity()["Arn"]


def approver_for_arn(arn: str, groups: dict[str, list[Any]]) -> Approver | None:
    """The runbook approver whose `iam` ARNs include `arn` (runbook `Program.approvers`)."""
    for members in groups.values():
        for member in members:
            if arn in member.iam:
                return Approver(slack=member.slack, name=member.name)
    return None


def cli_event(approval_id: str, action: str, reason: str | None, caller: str) -> dict[str, Any]:
    """The API Gateway proxy event the IAM-authorised CLI route delivers to the callback function."""
    path = c.APPROVALS_CLI_PATH.format(approval_id=approval_id, action=action)
    return {
        "resource": c.APPROVALS_CLI_PATH.replace("{approval_id}", "{approval_id}"),
        "path": path,
        "httpMethod": "POST",
        "headers": {"content-type": "application/json"},
        "pathParameters": {"approval_id": approval_id, "action": action},
        "requestContext": {"identity": {"userArn": caller}, "authorizer": None},
        "body": json.dumps({"reason": reason or ""}),
        "isBase64Encoded": False,
    }


def parse_response(response: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    body = response.get("body") or "{}"
    try:
        payload = json.loads(body)
    except json.JSONDecodeError:
        payload = {"message": body}
    return int(response.get("statusCode", 500)), payload


def send_signed(
    session: boto3.Session, api_url: str, approval_id: str, action: str, reason: str | None
) -> tuple[int, dict[str, Any]]:
    """POST the decision to the approvals API, signed with the caller's IAM credentials (SigV4)."""
    url = api_url.rstrip("/") + c.APPROVALS_CLI_PATH.format(approval_id=approval_id, action=action)
    body = json.dumps({"reason": reason or ""})
    request = AWSRequest(method="POST", url=url, data=body, headers={"content-type": "application/json"})
    credentials = session.get_credentials().get_frozen_credentials()
    SigV4Auth(credentials, "execute-api", session.region_name or "eu-west-1").add_auth(request)
    prepared = urllib.request.Request(url, data=body.encode(), headers=dict(request.headers), method="POST")
    try:
        with urllib.request.urlopen(prepared, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def api_url_from_stack(session: boto3.Session, stack_name: str) -> str | None:
    """The approvals API URL from the control-plane stack's outputs (after `cdk deploy`)."""
    stacks = session.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
    for output in stacks[0].get("Outputs", []):
        if output["OutputKey"].startswith(c.APPROVALS_API_OUTPUT):
            return output["OutputValue"]
    return None


def projection(attributes: tuple[str, ...]) -> dict[str, Any]:
    """ProjectionExpression + ExpressionAttributeNames for `attributes` (all aliased: many are
    DynamoDB reserved words, e.g. status, reason, kind)."""
    assert TOKEN_ATTRIBUTE not in attributes
    names = {f"#p{i}": name for i, name in enumerate(attributes)}
    return {"ProjectionExpression": ", ".join(names), "ExpressionAttributeNames": names}
