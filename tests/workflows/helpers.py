"""Handlers the workflow tests deploy next to the program's own (named in a function's `Handler`)."""

from __future__ import annotations

from typing import Any

from tasks.common.errors import NotReady

CALLS: list[dict[str, Any]] = []


def not_ready_twice(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Raises Wavectl.NotReady on its first two calls, then succeeds (to exercise Retry)."""
    CALLS.append(event)
    if len(CALLS) <= 2:
        raise NotReady(f"snapshot still copying (attempt {len(CALLS)})")
    return {"attempts": len(CALLS), "function": context.function_name}
