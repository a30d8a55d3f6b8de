"""The common frame's checks: execution input, freeze windows, dependencies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tasks.common.errors import DependencyNotMet, Frozen, InvalidInput
from tasks.contracts import INPUT_FIELDS
from tasks.frame import dependencies
from tasks.frame.dependencies import ExecutionReader


def validate_input(raw: Any) -> dict[str, Any]:
    """The execution input normalised: `{}` is enough; unknown or mistyped fields are refused."""
    if not isinstance(raw, dict):
        raise InvalidInput(f"execution input must be a JSON object, got {type(raw).__name__}")
    for name, value in raw.items():
        expected = INPUT_FIELDS.get(name)
        if expected is None:
            allowed = ", ".join(sorted(INPUT_FIELDS))
            raise InvalidInput(f"unknown input field '{name}' (allowed: {allowed})")
        if not isinstance(value, expected) or (expected is str and not value.strip()):
            raise InvalidInput(f"input field '{name}' must be a non-empty {expected.__name__}")
    return {
        "requested_by": raw.get("requested_by"),
        "requested_by_source": "input" if raw.get("requested_by") else "unknown",
        "change_ticket": raw.get("change_ticket"),
        "dry_run": bool(raw.get("dry_run", False)),
    }


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def check_freeze(now: str, windows: list[dict[str, str]]) -> None:
    moment = _parse_time(now)
    for window in windows:
        if _parse_time(window["start"]) <= moment < _parse_time(window["end"]):
            raise Frozen(
                f"inside freeze window '{window['name']}' ({window['start']} to {window['end']}); "
                "start the wave after it ends"
            )


def check_dependencies(sfn: ExecutionReader, depends_on: list[dict[str, str]]) -> None:
    """Refuse unless every dependency is met by the rule of `tasks.frame.dependencies`."""
    for dep in depends_on:
        verdict = dependencies.check(sfn, dep["wave"], dep["state_machine_arn"])
        if not verdict.met:
            raise DependencyNotMet(verdict.reason)


def run_guard(event: dict[str, Any], sfn: ExecutionReader) -> dict[str, Any]:
    request = validate_input(event.get("input"))
    check_freeze(event["now"], event.get("freeze", []))
    check_dependencies(sfn, event.get("depends_on", []))
    return {**request, "wave": event["wave"], "execution": event.get("execution")}
