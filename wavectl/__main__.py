"""`python -m wavectl` and the `wavectl` script.

`wavectl reconcile` runs from its own small app: it needs DuckDB and the engine, not the AWS SDK, the
runbook models and the other commands, whose imports took about a second of CPU before every run.
"""

from __future__ import annotations

import sys


def main() -> None:
    if _command(sys.argv[1:]) == "reconcile":
        from wavectl.cli_reconcile import main as reconcile_main

        reconcile_main()
    else:
        from wavectl.cli import main as cli_main

        cli_main()


def _command(args: list[str]) -> str | None:
    """The command word: the first argument that is not an option (`--debug` may come first)."""
    return next((arg for arg in args if not arg.startswith("-")), None)


if __name__ == "__main__":
    main()
