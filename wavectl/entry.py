"""How every wavectl entry point runs its typer app: an unexpected error is one line and exit 1,
unless `--debug` (accepted anywhere on the command line) asks for the traceback. Light on purpose:
`wavectl reconcile` runs through it without loading the AWS SDK."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from rich.console import Console

EXIT_FAILURE = 1
err = Console(stderr=True, highlight=False)


def run_guarded(
    app: Any, describe: Callable[[Exception], str | None] = lambda exc: None, **kwargs: Any
) -> None:
    """Run `app`; `describe` may turn a known error into its one line (else: "unexpected error: ...")."""
    debug = "--debug" in sys.argv[1:]
    sys.argv = [sys.argv[0], *(a for a in sys.argv[1:] if a != "--debug")]
    try:
        app(standalone_mode=True, **kwargs)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
    except Exception as exc:
        if debug:
            raise
        line = describe(exc) or f"unexpected error: {type(exc).__name__}: {exc} (--debug for details)"
        err.print(f"wavectl: {line}", style="red", markup=False, highlight=False, soft_wrap=True)
        sys.exit(EXIT_FAILURE)
