"""Votes whose DynamoDB write was applied but whose response was lost (a read timeout, then the SDK's
retry): the retry finds its own write, and the click has exactly the effect of a click without loss."""

from __future__ import annotations

import json
from typing import Any

from tasks.approvals.store import approvers_of


class LostFirstResponses:
    """A DynamoDB Table whose update_item is applied, its response lost, and the call retried as the
    SDK retries a read timeout: the caller sees the retry's answer (often ConditionalCheckFailed)."""

    def __init__(self, table: Any) -> None:
        self._table = table
        self.lost: list[str] = []

    def update_item(self, **kwargs: Any) -> Any:
        self._table.update_item(**kwargs)  # DynamoDB applied it; the response never arrived
        self.lost.append(kwargs["UpdateExpression"])
        return self._table.update_item(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._table, name)


def _lose_responses(world) -> LostFirstResponses:
    lossy = LostFirstResponses(world.services.store.table)
    world.services.store.table = lossy
    return lossy


def test_closing_vote_whose_writes_lose_their_responses_still_resumes_the_wave_once(world):
    # Given a 2-of-3 gate bob approved
    approval = world.open_gate()
    world.click(approval, "U02BOB")
    # And every approvals-table update from now on is applied, its response lost, and retried
    lossy = _lose_responses(world)
    # When carol's approval completes the quorum
    response = world.click(approval, "U03CAROL")
    # Then the vote and the close each found their own write on the retry: the click succeeded and
    # SendTaskSuccess was sent exactly once, with both approvers
    assert any("votes" in expression for expression in lossy.lost)
    assert response["statusCode"] == 200
    ((kind, call),) = world.sfn.calls
    assert kind == "success" and json.loads(call["output"])["approvers"] == ["U02BOB", "U03CAROL"]
    record = world.record(approval)
    assert record["status"] == "approved" and approvers_of(record) == ["U02BOB", "U03CAROL"]
    # And one evidence document says approved
    assert [json.loads(doc)["status"] for doc in world.evidence()] == ["approved"]


def test_reject_whose_close_loses_its_response_still_stops_the_wave(world):
    # Given an open gate, and every approvals-table update applied with its response lost
    approval = world.open_gate()
    _lose_responses(world)
    # When bob rejects
    response = world.click(approval, "U02BOB", "reject")
    # Then the retried close counts as bob's, and SendTaskFailure is sent once
    assert response["statusCode"] == 200
    assert [kind for kind, _ in world.sfn.calls] == ["failure"]
    assert world.record(approval)["status"] == "rejected"


def test_concurrent_close_by_someone_else_is_still_not_taken_for_ones_own(world):
    # Given a 1-of-3 gate that carol's reject already closed
    approval = world.open_gate(required=1)
    world.click(approval, "U03CAROL", "reject")
    # When bob's approval arrives after it
    response = world.click(approval, "U02BOB")
    # Then bob's click does not send a second task result
    assert response["statusCode"] == 200
    assert [kind for kind, _ in world.sfn.calls] == ["failure"]
    assert world.record(approval)["status"] == "rejected"
