"""The approvals table: one record per approval, one index record per (execution, gate).

Every state change is a conditional write, so retries, double clicks and concurrent clicks have
exactly one effect: the first writer wins, everyone else sees a ConditionalCheckFailed and backs off.
A write whose response was lost (DynamoDB applied it, the client timed out and the SDK retried) fails
its own condition on the retry: where that matters (a vote, a close, the post claim) the write carries
a value only this attempt writes, and a failed condition that finds that value counts as success.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from tasks import contracts as c
from tasks.approvals.rules import iso
from tasks.contracts import Decision

CLOSED_RECORD_DAYS = 400  # closed records expire from the table (the evidence bucket keeps them 7 years)
REPLAY_WINDOW_SECONDS = 600  # a signed Slack request is remembered longer than its 5-minute validity
CLOSE_ATTEMPT = "close_attempt"  # set by each close: which attempt closed the record


def _conditional_failed(exc: ClientError) -> bool:
    return exc.response["Error"]["Code"] in (
        "ConditionalCheckFailedException",
        "TransactionCanceledException",
    )


def approval_key(approval_id: str) -> dict[str, str]:
    return {"pk": c.APPROVAL_PK_PREFIX + approval_id, "sk": c.APPROVAL_SK}


def gate_key(execution: str, gate: str) -> dict[str, str]:
    return {"pk": c.EXECUTION_PK_PREFIX + execution, "sk": c.GATE_SK_PREFIX + gate}


def thread_key(execution: str) -> dict[str, str]:
    return {"pk": c.THREAD_PK_PREFIX + execution, "sk": c.THREAD_SK}


def approvers_of(record: dict[str, Any]) -> list[str]:
    """Approving voters in the order they voted."""
    votes = record.get("votes") or {}
    return sorted(votes, key=lambda user: (str(votes[user].get("at", "")), user))


def _assignments(prefix: str, values: dict[str, Any]) -> tuple[str, dict[str, str], dict[str, Any]]:
    """`#p0 = :p0, #p1 = :p1` with its names and values (every name aliased: many are reserved)."""
    names = {f"#{prefix}{i}": name for i, name in enumerate(values)}
    placeholders = {f":{prefix}{i}": value for i, value in enumerate(values.values())}
    expression = ", ".join(f"#{prefix}{i} = :{prefix}{i}" for i in range(len(values)))
    return expression, names, placeholders


def _ttl(now: datetime, days: int = CLOSED_RECORD_DAYS) -> int:
    return int((now + timedelta(days=days)).timestamp())


class ApprovalStore:
    def __init__(self, table: Any):
        self.table = table  # a boto3 DynamoDB Table resource

    # --------------------------------------------------------------------- reads

    def get(self, approval_id: str) -> dict[str, Any] | None:
        return self.table.get_item(Key=approval_key(approval_id), ConsistentRead=True).get("Item")

    def for_gate(self, execution: str, gate: str) -> dict[str, Any] | None:
        index = self.table.get_item(Key=gate_key(execution, gate), ConsistentRead=True).get("Item")
        return self.get(index[c.APPROVAL_ID]) if index else None

    def thread_of(self, execution: str) -> tuple[str, str] | None:
        """(channel, ts) of the root of the execution's Slack thread: its "started" message, else (Slack
        was down when it started) its first posted gate message; None while it has neither."""
        root = self.table.get_item(Key=thread_key(execution), ConsistentRead=True).get("Item") or {}
        if root.get("message_ts") and root.get("channel"):
            return str(root["channel"]), str(root["message_ts"])
        gates = self.table.query(
            KeyConditionExpression=Key("pk").eq(c.EXECUTION_PK_PREFIX + execution)
            & Key("sk").begins_with(c.GATE_SK_PREFIX),
            ConsistentRead=True,
        ).get("Items", [])
        for gate in sorted(gates, key=lambda item: str(item.get(c.APPROVAL_CREATED_AT, ""))):
            record = self.get(gate[c.APPROVAL_ID]) or {}
            if record.get("message_ts") and record.get("channel"):
                return str(record["channel"]), str(record["message_ts"])
        return None

    # --------------------------------------------------------------------- the execution's thread

    def claim_thread(self, execution: str, now: datetime) -> bool:
        """True for exactly one caller: the one that posts the root of the execution's thread."""
        return self._put_if_absent(
            {**thread_key(execution), "claimed_at": iso(now), "expires_ttl": _ttl(now)}
        )

    def set_thread(self, execution: str, channel: str, ts: str) -> None:
        self.table.update_item(
            Key=thread_key(execution),
            UpdateExpression="SET channel = :c, message_ts = :ts",
            ExpressionAttributeValues={":c": channel, ":ts": ts},
        )

    def release_thread(self, execution: str) -> None:
        """Give up a claim whose post failed: the next note (or gate) may start the thread."""
        try:
            self.table.delete_item(
                Key=thread_key(execution), ConditionExpression=Attr("message_ts").not_exists()
            )
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise

    def pending(self) -> list[dict[str, Any]]:
        """Full records of the open approvals. The by-status index projects no task tokens (nor all
        the fields the sweeper needs), so each record is read by key, consistently."""
        keys: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "IndexName": c.APPROVALS_STATUS_INDEX,
            "KeyConditionExpression": Key(c.APPROVAL_STATUS).eq(Decision.PENDING.value),
            "ProjectionExpression": "pk, sk",
        }
        while True:
            page = self.table.query(**kwargs)
            keys += page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        records = [self.table.get_item(Key=key, ConsistentRead=True).get("Item") for key in keys]
        return [r for r in records if r is not None and r.get("status") == Decision.PENDING]

    # --------------------------------------------------------------------- request

    def open(self, record: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Store a new approval, or find the one this (execution, gate) already has.

        Returns (record, created). A retried request refreshes the stored task token (a Step Functions
        retry of the state issues a new one) but keeps the approval id, votes and Slack message.
        """
        index = {
            **gate_key(record["execution"], record["gate"]),
            c.APPROVAL_ID: record[c.APPROVAL_ID],
            c.APPROVAL_CREATED_AT: record[c.APPROVAL_CREATED_AT],
        }
        if not self._put_if_absent(index):
            return self._existing(record)
        self._put_new(record)
        return record, True

    def _existing(self, record: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        index = self.table.get_item(Key=gate_key(record["execution"], record["gate"]), ConsistentRead=True)
        approval_id = index["Item"][c.APPROVAL_ID]
        existing = self.get(approval_id)
        if existing is None:  # the first attempt stopped between the two writes
            record = {**record, c.APPROVAL_ID: approval_id}
            self._put_new(record)
            return record, True
        if existing["status"] == Decision.PENDING and existing.get("task_token") != record["task_token"]:
            self.table.update_item(
                Key=approval_key(approval_id),
                UpdateExpression="SET task_token = :t",
                ConditionExpression=Attr("status").eq(Decision.PENDING.value),
                ExpressionAttributeValues={":t": record["task_token"]},
            )
            existing["task_token"] = record["task_token"]
        return existing, False

    def _put_new(self, record: dict[str, Any]) -> None:
        self._put_if_absent({**record, **approval_key(record[c.APPROVAL_ID])})

    def _put_if_absent(self, item: dict[str, Any]) -> bool:
        """Write `item` unless its key exists; True for the one caller that wrote it."""
        try:
            self.table.put_item(Item=item, ConditionExpression=Attr("pk").not_exists())
            return True
        except ClientError as exc:
            if _conditional_failed(exc):
                return False
            raise

    def _update_if(
        self, approval_id: str, mine: Callable[[dict[str, Any]], bool] | None = None, **update: Any
    ) -> dict[str, Any] | None:
        """A conditional update of an approval: the new record, or None when the condition failed
        (someone else closed, voted or set it first). With `mine`, a failed condition whose record
        `mine` recognises as this update's own (an SDK retry after a lost response) is the record."""
        try:
            return self.table.update_item(Key=approval_key(approval_id), ReturnValues="ALL_NEW", **update)[
                "Attributes"
            ]
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise
        if mine is None:
            return None
        record = self.get(approval_id)
        return record if record is not None and mine(record) else None

    def claim_post(self, approval_id: str) -> bool:
        """True for exactly one caller: the one that posts the Slack message."""
        claim = uuid.uuid4().hex
        return self._conditional_set(approval_id, "post_claimed", claim, Attr("post_claimed").not_exists())

    def release_post(self, approval_id: str) -> None:
        self.table.update_item(Key=approval_key(approval_id), UpdateExpression="REMOVE post_claimed")

    def set_message(self, approval_id: str, channel: str, ts: str, thread_ts: str | None = None) -> None:
        """Where the gate's message is; `thread_ts` the root of the execution's thread it replies in
        (reminders and escalations go there too: Slack threads are one level deep)."""
        thread = {":th": thread_ts} if thread_ts else {}
        self.table.update_item(
            Key=approval_key(approval_id),
            UpdateExpression="SET channel = :c, message_ts = :ts"
            + (", thread_ts = :th" if thread_ts else "")
            + " REMOVE post_error, post_failed_at",
            ExpressionAttributeValues={":c": channel, ":ts": ts, **thread},
        )

    def set_post_error(self, approval_id: str, code: str, now: datetime) -> None:
        """The request message could not be posted (every attempt failed): visible to the CLI."""
        self.table.update_item(
            Key=approval_key(approval_id),
            UpdateExpression="SET post_error = :e, post_failed_at = :at",
            ExpressionAttributeValues={":e": code, ":at": iso(now)},
        )

    def set_requester(self, approval_id: str, fields: dict[str, Any]) -> dict[str, Any] | None:
        """Record the CloudTrail requester learned after the request (pending approvals only, once)."""
        assignments, names, values = _assignments("r", fields)
        return self._update_if(
            approval_id,
            UpdateExpression=f"SET {assignments}",
            ConditionExpression="#s = :pending AND #src <> :cloudtrail",
            ExpressionAttributeNames={"#s": "status", "#src": "requester_source", **names},
            ExpressionAttributeValues={
                ":pending": Decision.PENDING.value,
                ":cloudtrail": "cloudtrail",
                **values,
            },
        )

    def void_vote(self, approval_id: str, user: str, note: dict[str, Any]) -> bool:
        """Take back `user`'s vote of a still-pending approval (they turned out to be the requester);
        the vote is kept under `voided_votes` with `note`. False if it closed or the vote is gone."""
        voided = self._update_if(
            approval_id,
            UpdateExpression="REMOVE votes.#u SET voided_votes = list_append("
            "if_not_exists(voided_votes, :empty), :note)",
            ConditionExpression="#s = :pending AND attribute_exists(votes.#u)",
            ExpressionAttributeNames={"#u": user, "#s": "status"},
            ExpressionAttributeValues={
                ":pending": Decision.PENDING.value,
                ":empty": [],
                ":note": [{**note, "user": user}],
            },
        )
        return voided is not None

    # --------------------------------------------------------------------- votes and decisions

    def add_vote(self, approval_id: str, user: str, vote: dict[str, Any]) -> dict[str, Any] | None:
        """Record `user`'s approval once; None when they already voted or the approval is closed.

        Votes are a map keyed by approver, so even a store without atomic conditions (the embedded
        AWS under concurrent clicks) cannot count one person twice.
        """
        record = self._update_if(
            approval_id,
            mine=lambda found: (found.get("votes") or {}).get(user) == vote,
            UpdateExpression="SET votes.#u = :vote",
            ConditionExpression="#s = :pending AND attribute_not_exists(votes.#u)",
            ExpressionAttributeNames={"#u": user, "#s": "status"},
            ExpressionAttributeValues={":vote": vote, ":pending": Decision.PENDING.value},
        )
        return None if record is None else {**record, "approvers": approvers_of(record)}

    def record_late_vote(self, approval_id: str, user: str, vote: dict[str, Any]) -> dict[str, Any] | None:
        """Record `user`'s approval of a gate that had already closed without it, under `late_votes`
        (their vote, if the closing click did not see it, moves there from `votes`). Once per user;
        None when it was recorded already, the gate is pending again or `user` is among its approvers."""
        self._update_if(
            approval_id,
            UpdateExpression="SET late_votes = :empty",
            ConditionExpression="attribute_not_exists(late_votes)",
            ExpressionAttributeValues={":empty": {}},
        )
        return self._update_if(
            approval_id,
            UpdateExpression="SET late_votes.#u = :vote REMOVE votes.#u",
            ConditionExpression="#s <> :pending AND attribute_not_exists(late_votes.#u) "
            "AND (attribute_not_exists(#a) OR NOT contains(#a, :user))",
            ExpressionAttributeNames={"#u": user, "#s": "status", "#a": c.APPROVAL_APPROVERS},
            ExpressionAttributeValues={":vote": vote, ":pending": Decision.PENDING.value, ":user": user},
        )

    def close(
        self, approval_id: str, decision: Decision, now: datetime, extra: dict[str, Any] | None = None
    ) -> dict[str, Any] | None:
        """pending -> `decision`, exactly once; the closed record, or None if someone closed it first."""
        attempt = uuid.uuid4().hex  # tells this close from a concurrent one (see the module doc)
        assignments, names, values = _assignments(
            "a", {"decided_at": iso(now), "expires_ttl": _ttl(now), CLOSE_ATTEMPT: attempt, **(extra or {})}
        )
        return self._update_if(
            approval_id,
            mine=lambda found: found.get(CLOSE_ATTEMPT) == attempt,
            UpdateExpression=f"SET #s = :decision, {assignments}",
            ConditionExpression="#s = :pending",
            ExpressionAttributeNames={"#s": "status", **names},
            ExpressionAttributeValues={
                ":decision": decision.value,
                ":pending": Decision.PENDING.value,
                **values,
            },
        )

    def reopen(self, approval_id: str, decision: Decision, decided: list[str]) -> bool:
        """`decision` -> pending again, votes kept, when its task result could not be sent (throttled,
        5xx): the execution still waits, and the next click sends the result. `decided` names the
        attributes the close set besides decided_at/expires_ttl. False if the record moved on."""
        closed = ["decided_at", "expires_ttl", CLOSE_ATTEMPT, *decided]
        names = {f"#d{i}": name for i, name in enumerate(dict.fromkeys(closed))}
        reopened = self._update_if(
            approval_id,
            UpdateExpression="SET #s = :pending REMOVE " + ", ".join(names),
            ConditionExpression="#s = :decision",
            ExpressionAttributeNames={"#s": "status", **names},
            ExpressionAttributeValues={":pending": Decision.PENDING.value, ":decision": decision.value},
        )
        return reopened is not None

    def overrule(self, approval_id: str, decision: Decision, via: str) -> dict[str, Any]:
        """Correct a closed record to what Step Functions actually did (e.g. it had timed out)."""
        return self.table.update_item(
            Key=approval_key(approval_id),
            UpdateExpression="SET #s = :d, decided_via = :v",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":d": decision.value, ":v": via},
            ReturnValues="ALL_NEW",
        )["Attributes"]

    def set_evidence_key(self, approval_id: str, key: str) -> None:
        self.table.update_item(
            Key=approval_key(approval_id),
            UpdateExpression="SET evidence_key = :k",
            ExpressionAttributeValues={":k": key},
        )

    def flag_evidence_error(self, approval_id: str, code: str) -> None:
        self.table.update_item(
            Key=approval_key(approval_id),
            UpdateExpression="SET evidence_error = :e",
            ExpressionAttributeValues={":e": code},
        )

    def mark_once(self, approval_id: str, attribute: str, now: datetime) -> bool:
        """Set `attribute` (e.g. reminded_at) if not yet set; True for the one caller that set it."""
        return self._conditional_set(approval_id, attribute, iso(now), Attr(attribute).not_exists())

    def _conditional_set(self, approval_id: str, attribute: str, value: Any, condition: Any) -> bool:
        """True for the one caller that set `attribute`. Each call also writes its own attempt id
        (`<attribute>_attempt`), so a retry after a lost response recognises its write, while a second
        caller with the same value (two sweeps at one time) does not mistake the first's for its own."""
        attempt = uuid.uuid4().hex
        updated = self._update_if(
            approval_id,
            mine=lambda found: found.get(f"{attribute}_attempt") == attempt,
            UpdateExpression="SET #a = :v, #t = :t",
            ConditionExpression=condition,
            ExpressionAttributeNames={"#a": attribute, "#t": f"{attribute}_attempt"},
            ExpressionAttributeValues={":v": value, ":t": attempt},
        )
        return updated is not None

    # --------------------------------------------------------------------- replay protection

    def first_use_of_signature(self, signature: str, now: datetime) -> bool:
        """True the first time a signed Slack request is seen; False for a replay of it."""
        digest = hashlib.sha256(signature.encode()).hexdigest()
        return self._put_if_absent(
            {
                "pk": f"slack-request#{digest}",
                "sk": "seen",
                "seen_at": iso(now),
                "expires_ttl": int(now.timestamp()) + REPLAY_WINDOW_SECONDS,
            }
        )
