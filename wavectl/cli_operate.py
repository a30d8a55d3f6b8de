"""Operating commands against AWS (or `wavectl local up` with --local): `start`, `status`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from wavectl.cli_common import (
    EXIT_FAILURE,
    EXIT_INVALID,
    Port,
    Runbooks,
    err,
    known_wave_or_exit,
    load_or_exit,
    out,
    progress,
    session_for,
)


def register(app: typer.Typer) -> None:
    app.command(name="start")(start)
    app.command(name="status")(status)
    app.command(name="evidence")(evidence)


def start(
    wave: Annotated[str, typer.Argument(help="the wave to start")],
    input_json: Annotated[
        str | None, typer.Option("--input", help="execution input as JSON, e.g. '{\"dry_run\": true}'")
    ] = None,
    ticket: Annotated[str | None, typer.Option("--ticket", help="change ticket, e.g. CHG-1234")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="run the read-only checks only; nothing is changed")
    ] = False,
    local: Annotated[
        bool, typer.Option("--local", help="start it on `wavectl local up` (127.0.0.1)")
    ] = False,
    port: Port = None,
    runbooks: Runbooks = Path("runbooks"),
    requested_by: Annotated[
        str | None, typer.Option("--requested-by", help="who asks (default: your AWS caller identity)")
    ] = None,
) -> None:
    """Start a wave on its `live` alias; print the execution ARN.

    Refuses, starting nothing (exit 1), when the wave already runs, a freeze window is on or a
    dependency is not met (the guard's own rules); exit 2 on bad input.

    Example: wavectl start orders-db --ticket CHG-1234 --dry-run
    """
    import getpass

    from wavectl.local.runner import start_wave
    from wavectl.operate import refusal, start_input

    runbook = load_or_exit(runbooks)
    known_wave_or_exit(runbook, wave)
    session = session_for(runbook, local, port)
    document = start_input(requested_by or _caller(session) or getpass.getuser(), input_json, ticket, dry_run)
    if not isinstance(document, dict):
        err.print(f"refused, nothing started: {document}", style="red", highlight=False, markup=False)
        raise typer.Exit(EXIT_INVALID)
    refused = refusal(session, runbook, wave)
    if refused is not None:
        err.print(f"refused, nothing started: {refused}", style="red", highlight=False, markup=False)
        raise typer.Exit(EXIT_FAILURE)
    who = document.pop("requested_by")
    execution_arn = start_wave(session, runbook, wave, who, extra_input=document)
    mode = " (dry run)" if document.get("dry_run") else ""
    out.print(f"started {wave}{mode}: {execution_arn}", highlight=False, soft_wrap=True)


def _caller(session) -> str | None:
    """The ARN AWS authenticates this session as: the requester the gates will also find in CloudTrail."""
    from wavectl.approvals import caller_arn

    try:
        return caller_arn(session)
    except Exception:  # no credentials for STS: CloudTrail still names the caller of StartExecution
        return None


def status(
    wave: Annotated[
        str | None, typer.Argument(help="one wave: every execution, newest first (default: all waves)")
    ] = None,
    execution: Annotated[
        str | None,
        typer.Option("--execution", help="with WAVE: one execution (name or ARN), step by step"),
    ] = None,
    local: Annotated[
        bool, typer.Option("--local", help="read it from `wavectl local up` (127.0.0.1)")
    ] = False,
    port: Port = None,
    output_format: Annotated[str, typer.Option("--format", help="table, json or html")] = "table",
    output: Annotated[Path | None, typer.Option("--out", help="write to this file instead of stdout")] = None,
    runbooks: Runbooks = Path("runbooks"),
) -> None:
    """Where every wave stands, in dependency order; or one wave's executions; or one execution's steps.

    Examples: wavectl status --format html --out status.html ;
    wavectl status orders-db ; wavectl status orders-db --execution NAME
    """
    import sys

    from wavectl import status as review
    from wavectl.report import table

    if output_format not in ("table", "json", "html"):
        err.print(f"--format must be table, json or html (got {output_format!r})")
        raise typer.Exit(EXIT_INVALID)
    if execution and not wave:
        err.print("--execution needs the WAVE it belongs to: wavectl status WAVE --execution NAME")
        raise typer.Exit(EXIT_INVALID)
    runbook = load_or_exit(runbooks)
    if wave:
        known_wave_or_exit(runbook, wave)
    session = session_for(runbook, local, port)
    with progress(f"reading {wave or 'every wave'} from Step Functions…"):
        if execution:
            document = review.execution_detail(session, runbook, wave, execution)
        elif wave:
            document = review.wave_history(session, runbook, wave)
        else:
            document = review.build_status(session, runbook)
    if output_format == "table":
        console = Console(file=output.open("w"), width=120) if output else out
        if execution:
            table.print_execution(document, console)
        elif wave:
            table.print_wave(document, console)
        else:
            table.print_program(document, console)
        return
    if output_format == "html":
        if wave:
            document = {"program": runbook.program.program, "generated_at": review.iso(_now()),
                        "waves": [document]} if not execution else document  # fmt: skip
        text = review.status_html(document) if not execution else review.status_json(document)
    else:
        text = review.status_json(document)
    if output is not None:
        output.write_text(text)
    else:
        sys.stdout.write(text)


def _now():
    from datetime import UTC, datetime

    return datetime.now(UTC)


def evidence(
    wave: Annotated[str, typer.Argument(help="the wave")],
    output: Annotated[Path, typer.Option("--out", help="folder to write the bundle and summary.md to")],
    execution: Annotated[
        str | None, typer.Option("--execution", help="execution name (default: the latest that ended)")
    ] = None,
    local: Annotated[
        bool, typer.Option("--local", help="read it from `wavectl local up` (127.0.0.1)")
    ] = False,
    port: Port = None,
    runbooks: Runbooks = Path("runbooks"),
) -> None:
    """Fetch an execution's archived evidence, check every sha256 in its index, write summary.md.

    Exit 1 when a digest does not match or nothing is archived for it.

    Example: wavectl evidence orders-db --execution NAME --out evidence/orders-db
    """
    from wavectl.evidence import NoBundle, fetch_bundle, latest_ended_execution

    runbook = load_or_exit(runbooks)
    known_wave_or_exit(runbook, wave)
    session = session_for(runbook, local, port)
    try:
        name = execution or latest_ended_execution(session, runbook, wave)
        with progress(f"fetching the evidence of {wave} {name}…"):
            fetched = fetch_bundle(session, runbook, wave, name, output)
    except NoBundle as exc:
        err.print(str(exc), style="red", highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(EXIT_FAILURE) from None
    total = len(fetched.index["files"])
    out.print(
        f"{wave} {name}: {len(fetched.verified)} of {total} file(s) verified (sha256) in {output}; "
        f"see {output / 'summary.md'}",
        highlight=False,
        soft_wrap=True,
    )
    if not fetched.ok:
        err.print(f"digest mismatch: {', '.join(fetched.mismatched)}", style="red", highlight=False)
        raise typer.Exit(EXIT_FAILURE)
