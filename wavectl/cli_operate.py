"""Operating commands against AWS (or `wavectl local up` with --local): `start`, `status`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from wavectl.cli_common import (
    EXIT_INVALID,
    Port,
    Runbooks,
    err,
    known_wave_or_exit,
    load_or_exit,
    session_for,
)
from wavectl.cli_common import wide_out as out


def register(app: typer.Typer) -> None:
    app.command(name="start")(start)
    app.command(name="status")(status)


def start(
    wave: Annotated[str, typer.Argument(help="the wave to start")],
    local: Annotated[
        bool, typer.Option("--local", help="start it on `wavectl local up` (127.0.0.1)")
    ] = False,
    port: Port = None,
    runbooks: Runbooks = Path("runbooks"),
    requested_by: Annotated[
        str | None, typer.Option("--requested-by", help="who asks (default: your AWS caller identity)")
    ] = None,
) -> None:
    """Start a wave on its `live` alias (input: {"requested_by": ...}); print the execution ARN.

    Example: wavectl start orders-db --local
    """
    import getpass

    from wavectl.local.runner import start_wave

    runbook = load_or_exit(runbooks)
    known_wave_or_exit(runbook, wave)
    session = session_for(runbook, local, port)
    execution_arn = start_wave(session, runbook, wave, requested_by or _caller(session) or getpass.getuser())
    out.print(f"started {wave}: {execution_arn}", highlight=False, soft_wrap=True)


def _caller(session) -> str | None:
    """The ARN AWS authenticates this session as: the requester the gates will also find in CloudTrail."""
    from wavectl.approvals import caller_arn

    try:
        return caller_arn(session)
    except Exception:  # no credentials for STS: CloudTrail still names the caller of StartExecution
        return None


def status(
    local: Annotated[
        bool, typer.Option("--local", help="read it from `wavectl local up` (127.0.0.1)")
    ] = False,
    port: Port = None,
    output_format: Annotated[str, typer.Option("--format", help="table, json or html")] = "table",
    output: Annotated[Path | None, typer.Option("--out", help="write to this file instead of stdout")] = None,
    runbooks: Runbooks = Path("runbooks"),
) -> None:
    """Per-wave status: latest execution, the version it ran, approvals, current state or error.

    Example: wavectl status --local --format json
    """
    import sys

    from wavectl.status import build_status, print_status, status_html, status_json

    if output_format not in ("table", "json", "html"):
        err.print(f"--format must be table, json or html (got {output_format!r})")
        raise typer.Exit(EXIT_INVALID)
    runbook = load_or_exit(runbooks)
    document = build_status(session_for(runbook, local, port), runbook)
    if output_format == "table":
        print_status(document, Console(file=output.open("w")) if output else out)
        return
    text = status_json(document) if output_format == "json" else status_html(document)
    if output is not None:
        output.write_text(text)
    else:
        sys.stdout.write(text)
