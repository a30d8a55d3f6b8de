"""Lazy access to a task function's configuration.

On AWS each function's environment is its own process's `os.environ`. The embedded runner installs
the invoked function's environment in `tasks.contracts.FUNCTION_ENVIRONMENT` for the duration of a
call; `setting()` looks there first.
"""

from __future__ import annotations

import os

from tasks.contracts import FUNCTION_ENVIRONMENT, function_environment

__all__ = ["MissingSetting", "function_environment", "setting"]


class MissingSetting(RuntimeError):
    """A task function was deployed without an environment variable it needs."""


def setting(name: str, default: str | None = None) -> str:
    overlay = FUNCTION_ENVIRONMENT.get()
    if overlay is not None and name in overlay:
        return overlay[name]
    value = os.environ.get(name, default)
    if value is None:
        raise MissingSetting(f"environment variable {name} is not set for this task function")
    return value
