"""Reading a Step Functions execution history: the state it is in, the approvals it waits on, its error."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

_END_OF_TASK = ("TaskSucceeded", "TaskFailed", "TaskTimedOut", "TaskSubmitFailed", "TaskStartFailed")


@dataclass(frozen=True)
class Position:
    current_state: str | None  # the most recently entered state that has not exited
    pending_gates: tuple[str, ...]  # waitForTaskToken states still waiting for their callback


def history_events(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
        events += page["events"]
    return events


def _state_name(event: dict[str, Any], by_id: dict[int, dict[str, Any]]) -> str | None:
    """The state an event belongs to: walk back to the StateEntered event it follows from."""
    seen = 0
    while event is not None and seen < 50:
        details = event.get("stateEnteredEventDetails")
        if details:
            return details["name"]
        event = by_id.get(event.get("previousEventId", 0))
        seen += 1
    return None


def position(events: list[dict[str, Any]]) -> Position:
    by_id = {e["id"]: e for e in events}
    open_states: list[str] = []
    waiting: dict[str, bool] = {}
    for event in events:
        if "stateEnteredEventDetails" in event:
            open_states.append(event["stateEnteredEventDetails"]["name"])
        elif "stateExitedEventDetails" in event:
            name = event["stateExitedEventDetails"]["name"]
            if name in open_states:
                open_states.remove(name)
        elif event["type"] == "TaskScheduled":
            if event["taskScheduledEventDetails"].get("resource", "").endswith(".waitForTaskToken"):
                waiting[_state_name(event, by_id) or "?"] = True
        elif event["type"] in _END_OF_TASK:
            waiting.pop(_state_name(event, by_id) or "?", None)
    pending = tuple(name for name in waiting if name in open_states)
    return Position(current_state=open_states[-1] if open_states else None, pending_gates=pending)


@dataclass(frozen=True)
class ExecutionError:
    name: str
    message: str
    cause: str

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "message": self.message, "cause": self.cause}


def execution_error(
    description: dict[str, Any], events: list[dict[str, Any]] | None = None
) -> ExecutionError | None:
    """The error a stopped execution failed with; the message out of a Lambda error's JSON cause."""
    name, cause = description.get("error"), description.get("cause")
    if not name and events:
        name, cause = _failure_from_history(events)
    if not name:
        return None
    cause = cause or ""
    return ExecutionError(name=name, message=_message_of(cause), cause=cause)


def _failure_from_history(events: list[dict[str, Any]]) -> tuple[str | None, str | None]:
    for event in reversed(events):
        for key in (
            "executionFailedEventDetails",
            "executionAbortedEventDetails",
            "executionTimedOutEventDetails",
        ):
            details = event.get(key)
            if details:
                return details.get("error"), details.get("cause")
    return None, None


def _message_of(cause: str) -> str:
    try:
        parsed = json.loads(cause)
    except (TypeError, ValueError):
        return cause
    if isinstance(parsed, dict):
        return str(parsed.get("errorMessage") or parsed.get("Cause") or parsed.get("message") or cause)
    return cause
