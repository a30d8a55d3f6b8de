"""`wavectl reconcile`: one business day of payments, old platform against new owner, on local files.

Runs the task Lambda's own engine (tasks.payments.reconcile). Exit 0 when the day is clean, 1 when it
is not (the outputs say why), 2 when the arguments or inputs cannot be used.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from wavectl.entry import run_guarded

EXIT_CLEAN, EXIT_NOT_CLEAN, EXIT_UNUSABLE = 0, 1, 2
PAYMENT_DUAL_RUN = "payment-dual-run"

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def register(app: typer.Typer) -> None:
    app.command("reconcile")(reconcile_command)


def main() -> None:
    """`wavectl reconcile ...` on its own (see wavectl/__main__.py): the same command, options and exit
    codes as in the full CLI; an unexpected error is one line unless --debug."""
    app = typer.Typer(
        name="wavectl", pretty_exceptions_enable=False, add_completion=False, rich_markup_mode=None
    )
    app.callback()(_group)
    register(app)
    run_guarded(app, prog_name="wavectl")


def _group() -> None:
    """Reconcile one business day of payments (the full CLI lists every command)."""


def reconcile_command(
    old: Annotated[Path, typer.Argument(help="the old platform's settled payments (.csv, .jsonl, .parquet)")],
    new: Annotated[Path, typer.Argument(help="the new owner's acknowledgements for the same day")],
    out_dir: Annotated[Path, typer.Option("--out", help="folder for summary.json/.txt and the CSVs")],
    runbooks: Annotated[
        Path | None,
        typer.Option("--runbooks", help="runbooks folder: rules from its payment-dual-run wave"),
    ] = None,
    wave: Annotated[
        str | None, typer.Option("--wave", help="which payment-dual-run wave, when there are several")
    ] = None,
    partitions: Annotated[
        int, typer.Option("--partitions", min=1, help="hash partitions (as the Distributed Map does)")
    ] = 1,
    memory_limit: Annotated[
        str, typer.Option("--memory-limit", help="DuckDB memory before spilling to disk, e.g. 1GB")
    ] = "1GB",
    threads: Annotated[int | None, typer.Option("--threads", min=1, help="DuckDB threads")] = None,
) -> None:
    """Reconcile OLD against NEW: matches, field breaks, missing, extra, duplicates, control totals.

    Writes summary.json, summary.txt, breaks.csv, missing_in_new.csv, extra_in_new.csv and
    duplicates.csv into --out. Exit code 0 when clean, 1 when not, 2 on unusable arguments.

    Example: wavectl reconcile old.csv acks.csv --runbooks runbooks/ --out recon/2026-11-29
    """
    import duckdb

    from tasks.payments import reconcile as engine

    for label, path in (("OLD", old), ("NEW", new)):
        if not path.exists():
            _unusable(f"{label} {path} does not exist")
    try:
        rules = _rules(runbooks, wave)
        limits = engine.EngineLimits(memory_limit=memory_limit, threads=threads)
        if partitions > 1:
            summary = engine.reconcile_partitioned(old, new, out_dir, partitions, rules, limits)
        else:
            summary = engine.reconcile(old, new, out_dir, rules, limits)
    except engine.ReconcileInputError as exc:
        _unusable(str(exc))
    except duckdb.Error as exc:  # unreadable file, bad memory limit: DuckDB's first line says which
        _unusable(str(exc).strip().splitlines()[0])
    out.print((out_dir / engine.SUMMARY_TEXT).read_text().rstrip(), markup=False, soft_wrap=True)
    out.print(f"outputs in {out_dir}", markup=False)
    if not summary["clean"]:
        err.print("not clean: see the breaks, missing, extra and duplicates files", style="red")
        raise typer.Exit(EXIT_NOT_CLEAN)


def _unusable(message: str) -> None:
    err.print(f"wavectl reconcile: {message}", style="red", markup=False, soft_wrap=True)
    raise typer.Exit(EXIT_UNUSABLE)


def _rules(runbooks: Path | None, wave_name: str | None) -> Any:
    """The reconciliation rules of the runbook's payment-dual-run wave; the defaults without --runbooks."""
    from tasks.payments.reconcile import ReconcileRules

    if runbooks is None:
        if wave_name:
            _unusable("--wave needs --runbooks")
        return ReconcileRules()
    from wavectl.cli_common import load_or_exit

    waves = [w for w in load_or_exit(runbooks).waves if w.kind == PAYMENT_DUAL_RUN]
    if wave_name:
        waves = [w for w in waves if w.wave == wave_name]
    if not waves:
        _unusable(f"no {PAYMENT_DUAL_RUN} wave{' ' + wave_name if wave_name else ''} in {runbooks}")
    if len(waves) > 1:
        _unusable(
            f"several {PAYMENT_DUAL_RUN} waves; choose one with --wave ({', '.join(w.wave for w in waves)})"
        )
    make_rules = getattr(waves[0].payments, "reconcile_rules", None)
    if make_rules is None:
        err.print(f"wave {waves[0].wave} states no reconciliation rules; using the defaults", markup=False)
        return ReconcileRules()
    return ReconcileRules(**make_rules())
