"""What every `wavectl` command module shares: consoles, exit codes, runbook loading, sessions.

The command modules (`cli.py`, `cli_rehearsal.py`, `cli_operate.py`, `cli_approvals.py`) import this
module and never each other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from wavectl.runbook import Runbook, RunbookInvalid, load_runbook

EXIT_OK, EXIT_FAILURE, EXIT_INVALID = 0, 1, 2

out = Console()
err = Console(stderr=True)
# wide, unwrapped tables for logs and CI; a terminal gets its own width
wide_out = Console() if Console().is_terminal else Console(width=160)

RunbookPath = Annotated[
    Path, typer.Argument(help="runbooks folder (holding program.yaml and waves/) or its program.yaml")
]
Runbooks = Annotated[Path, typer.Option("--runbooks", help="runbooks folder (program.yaml + waves/)")]
Port = Annotated[int | None, typer.Option("--port", help="port of `wavectl local up` (default 4599)")]


def load_or_exit(path: Path) -> Runbook:
    """Load the runbook; on problems print each as file:line:col and exit 2."""
    try:
        return load_runbook(path)
    except RunbookInvalid as exc:
        for problem in exc.problems:
            err.print(str(problem), markup=False, highlight=False, soft_wrap=True)
        err.print(f"{len(exc.problems)} problem(s) found; nothing was done.", style="red", highlight=False)
        raise typer.Exit(EXIT_INVALID) from None


def known_wave_or_exit(runbook: Runbook, wave: str) -> None:
    if wave not in {w.wave for w in runbook.waves}:
        err.print(f"no wave named {wave!r} (waves: {', '.join(w.wave for w in runbook.ordered_waves())})")
        raise typer.Exit(EXIT_INVALID)


def session_for(runbook: Runbook, local: bool, port: int | None):
    """A boto3 session on AWS (the caller's credentials), or on `wavectl local up` with --local."""
    import boto3

    if not local:
        return boto3.Session(region_name=runbook.program.home_region)
    from wavectl.local.client import LocalNotRunning, connect

    try:
        return connect(runbook.program.home_region, port)
    except LocalNotRunning as exc:
        err.print(str(exc), style="red")
        raise typer.Exit(EXIT_FAILURE) from None
