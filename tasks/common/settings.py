"""Lazy access to a task function's configuration.

On AWS each function's environment is its own process's `os.environ`. The embedded runner calls
many functions in one process (some concurrently, in Map iterations), so it installs the invoked
function's environment in a context variable for the duration of the call; `setting()` looks
there first.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from collections.abc import Iterator, Mapping

_overlay: contextvars.ContextVar[Mapping[str, str] | None] = contextvars.ContextVar(
    "wavectl_function_environment", default=None
)


class MissingSetting(RuntimeError):
    """A task function was deployed without an environment variable it needs."""


def setting(name: str, default: str | None = None) -> str:
    overlay = _overlay.get()
    if overlay is not None and name in overlay:
        return overlay[name]
    value = os.environ.get(name, default)
    if value is None:
        raise MissingSetting(f"environment variable {name} is not set for this task function")
    return value


@contextlib.contextmanager
def function_environment(environment: Mapping[str, str]) -> Iterator[None]:
    """Make `environment` the settings of the code run inside the block (this thread only)."""
    token = _overlay.set(dict(environment))
    try:
        yield
    finally:
        _overlay.reset(token)
