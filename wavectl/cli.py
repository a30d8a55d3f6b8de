"""`wavectl`: validate, plan, synthesise, rehearse and operate migration waves."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.padding import Padding
from rich.text import Text

from wavectl import cli_approvals, cli_bridge, cli_operate, cli_reconcile, cli_rehearsal
from wavectl.cli_common import (
    EXIT_FAILURE,
    EXIT_INVALID,
    RunbookPath,
    aws_error_line,
    err,
    load_or_exit,
    out,
    progress,
)
from wavectl.entry import run_guarded
from wavectl.runbook import format_duration, json_schema_text

app = typer.Typer(
    name="wavectl",
    help="Migration waves as versioned, approval-gated AWS Step Functions workflows.\n\n"
    "Describe the program in runbooks/ (program.yaml + waves/*.yaml), validate and plan it, "
    "synthesise one versioned state machine per wave, and rehearse everything offline.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)


@app.command()
def validate(path: RunbookPath = Path("runbooks")) -> None:
    """Check the runbooks: schema, residency, dependencies, approver groups, durations.

    Every problem is printed as FILE:LINE:COL: message; exit code 2 when any is found.

    Example: wavectl validate runbooks/
    """
    runbook = load_or_exit(path)
    out.print(f"{runbook.program.program}: {len(runbook.waves)} wave(s) valid", highlight=False)


@app.command()
def schema(
    output: Annotated[Path | None, typer.Option("--out", help="write to this file instead of stdout")] = None,
) -> None:
    """Print the JSON Schema of program.yaml and waves/*.yaml (for editors).

    Example: wavectl schema --out runbooks/schema.json
    """
    text = json_schema_text()
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text)
        out.print(f"wrote {output}")


@app.command()
def synth(
    path: RunbookPath = Path("runbooks"),
    outdir: Annotated[Path, typer.Option("--out", help="cloud assembly folder")] = Path("cdk.out"),
    bundle: Annotated[
        bool,
        typer.Option(
            "--bundle/--no-bundle",
            help="bundle task dependencies for Lambda (arm64) with pip; --no-bundle for local rehearsal",
        ),
    ] = True,
) -> None:
    """Synthesise CloudFormation: the control plane plus one versioned workflow stack per wave.

    Needs no AWS credentials, no Docker. Deploy the result with `npx aws-cdk deploy --app DIR --all`.

    Example: wavectl synth --out cdk.out
    """
    from wavectl.synth import OutdirNotAnAssembly, synthesize

    runbook = load_or_exit(path)
    try:
        with progress(f"synthesising {outdir} (CDK, about a minute)…"):
            templates = synthesize(runbook, outdir, bundle=bundle)
    except OutdirNotAnAssembly as exc:
        err.print(f"synth refused: {exc}", style="red", markup=False, highlight=False)
        raise typer.Exit(EXIT_INVALID) from None
    except Exception as exc:  # jsii wraps every CDK failure (bundling, cdk-nag findings) in RuntimeError
        err.print(f"synth failed: {exc}", style="red", markup=False, highlight=False)
        raise typer.Exit(EXIT_FAILURE) from None
    for template in templates:
        out.print(f"  {template}", highlight=False)
    out.print(f"{len(templates)} template(s) in {outdir}", highlight=False)


@app.command()
def plan(path: RunbookPath = Path("runbooks")) -> None:
    """Show what each wave will do, in dependency order, with versions and approval policy.

    Example: wavectl plan runbooks/
    """
    from wavectl.planning import describe_wave

    runbook = load_or_exit(path)
    waves = runbook.ordered_waves()
    out.print(f"{runbook.program.program}: {len(waves)} wave(s) in dependency order", highlight=False)
    for index, wave in enumerate(waves, start=1):
        policy = wave.approval
        approval = f"{policy.required} of {policy.group}, {format_duration(policy.timeout)}"
        if policy.escalate_to:
            approval += f", then {policy.escalate_to}"
        out.print(f"\n{index}. {wave.wave}  ({wave.kind} v{wave.version})", style="bold", highlight=False)
        out.print(f"   after:    {', '.join(wave.depends_on) or '-'}", highlight=False, markup=False)
        out.print(f"   approval: {approval}", highlight=False, markup=False)
        for line in describe_wave(wave).splitlines():
            out.print(Padding(Text(line), (0, 0, 0, 3), expand=False))  # wrapped lines keep the indent


# Command groups living in their own modules: one registration line each.
for _module in (cli_rehearsal, cli_operate, cli_approvals, cli_bridge, cli_reconcile):
    _module.register(app)


@app.callback()
def _options(
    debug: Annotated[bool, typer.Option("--debug", help="show the traceback of an unexpected error")] = False,
) -> None:
    """(`--debug` is accepted anywhere on the command line.)"""


def main() -> None:
    """Run a command; an AWS error is one line (what failed, what to do) and exit 1, unless --debug."""
    run_guarded(app, aws_error_line)


if __name__ == "__main__":
    main()
