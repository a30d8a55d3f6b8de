"""Rehearsal commands on the embedded AWS: `run --local`, `demo`, `local up`."""

from __future__ import annotations

import functools
import threading
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.live import Live
from rich.text import Text

from wavectl.cli_common import (
    EXIT_FAILURE,
    EXIT_INVALID,
    EXIT_OK,
    Port,
    Runbooks,
    err,
    known_wave_or_exit,
    load_or_exit,
    progress,
)
from wavectl.cli_common import wide_out as out
from wavectl.runbook import Runbook

# The rehearsal's own assembly (no bundling): kept apart from cdk.out, the bundled one that is deployed,
# so a rehearsal never replaces the artefact a person is about to `cdk deploy`.
LOCAL_ASSEMBLY = Path("cdk.local.out")

Assembly = Annotated[
    Path,
    typer.Option("--assembly", help="cloud assembly to deploy locally; synthesised (no bundling) if stale"),
]
SpeedOption = Annotated[
    str,
    typer.Option(
        "--speed", help="time compression: 'fast' (default: 1h per second, waits capped) or a factor N"
    ),
]
DEFAULT_GATE_MINUTES = 30.0
local_app = typer.Typer(help="Keep an embedded AWS running for rehearsal by hand.", no_args_is_help=True)


def _quiet_task_logs() -> None:
    """Task functions log JSON at INFO (to CloudWatch on AWS); locally that would bury the progress.

    `POWERTOOLS_LOG_LEVEL=INFO wavectl demo` shows them again."""
    import os

    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")


def register(app: typer.Typer) -> None:
    app.command(name="run")(run)
    app.command(name="demo")(demo)
    app.add_typer(local_app, name="local")


# ----------------------------------------------------------------------------- helpers


def _load(path: Path) -> Runbook:
    return load_or_exit(path)


def ensure_assembly(runbook: Runbook, assembly: Path) -> float:
    """Synthesise `assembly` (no bundling) unless it is current; return the seconds it took."""
    from wavectl.synth import is_current, synthesize

    if is_current(assembly, runbook, False) or is_current(assembly, runbook, True):
        return 0.0
    started = time.monotonic()
    try:
        with progress(f"synthesising {assembly} (CDK, no bundling; about a minute)…"):
            synthesize(runbook, assembly, bundle=False)
    except Exception as exc:  # jsii reports synth and cdk-nag failures as RuntimeError
        err.print(f"synth failed, nothing was run: {exc}", style="red", highlight=False, markup=False)
        raise typer.Exit(EXIT_FAILURE) from None
    return time.monotonic() - started


def _speed(value: str):
    from wavectl.local.clock import Speed

    try:
        return Speed.parse(value)
    except ValueError as exc:
        err.print(f"--speed: {exc}", style="red")
        raise typer.Exit(EXIT_INVALID) from None


def format_seconds(seconds: float) -> str:
    seconds = max(seconds, 0.0)
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    parts = [f"{days}d" if days else "", f"{hours}h" if hours else "", f"{minutes}m" if minutes else ""]
    return " ".join(p for p in parts if p) + (f" {secs}s" if secs and not days else "")


class ProgressView:
    """Live progress of the running wave: on a terminal one updating line, elsewhere one line per state."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.live: Live | None = Live(console=console, transient=True) if console.is_terminal else None
        self._seen: dict[str, tuple[str | None, tuple[str, ...]]] = {}

    def __enter__(self) -> ProgressView:
        if self.live is not None:
            self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.__exit__(None, None, None)

    def update(self, progress: Any) -> None:
        line = Text.assemble(
            (f"{progress.wave} ", "bold"),
            (f"{progress.status} ", "cyan"),
            f"state: {progress.current_state or '-'}  ",
            f"elapsed {format_seconds(progress.real_seconds)}  ",
            f"simulated {format_seconds(progress.simulated_seconds)}",
            (
                f"  pending approval: {', '.join(progress.pending_gates)}" if progress.pending_gates else "",
                "yellow",
            ),
        )
        if self.live is not None:
            self.live.update(line)
        key = (progress.current_state, progress.pending_gates)
        if self._seen.get(progress.wave) != key and progress.status == "RUNNING":
            self._seen[progress.wave] = key
            if progress.current_state:
                gate = (
                    f"  (pending approval: {', '.join(progress.pending_gates)})"
                    if progress.pending_gates
                    else ""
                )
                self.console.print(
                    f"  {progress.wave} → {progress.current_state}{gate}", highlight=False, markup=False
                )

    def done(self, run: Any) -> None:
        style = "green" if run.status == "SUCCEEDED" else "red" if run.status != "NOT_STARTED" else "dim"
        self.console.print(
            Text.assemble(
                (f"{run.wave}: {run.status}", style),
                f"  (real {format_seconds(run.real_seconds)}, "
                f"simulated {format_seconds(run.simulated_seconds)})"
                if run.execution_arn
                else "  (a wave it depends on did not succeed)",
            )
        )
        if run.error is not None:
            self.console.print(
                f"  {run.error.name}: {run.error.message}",
                style="red",
                highlight=False,
                markup=False,
                soft_wrap=True,
            )


def write_outputs(cloud: Any, document: dict[str, Any], outdir: Path) -> list[Path]:
    from wavectl.status import status_html, status_json

    outdir.mkdir(parents=True, exist_ok=True)
    (outdir / "status.json").write_text(status_json(document))
    (outdir / "status.html").write_text(status_html(document))
    cloud.slack.export_jsonl(outdir / "slack.jsonl")
    return [outdir / "status.json", outdir / "status.html", outdir / "slack.jsonl"]


def _summary(runs: list[Any], cloud: Any, wall: float) -> dict[str, Any]:
    return {
        "wall_seconds": round(wall, 2),
        "simulated_seconds": round(cloud.clock.simulated_elapsed(), 1),
        "speed": cloud.speed.describe(),
        "waves": {run.wave: run.status for run in runs},
    }


def _run_locally(
    runbook: Runbook,
    assembly: Path,
    speed: str,
    outdir: Path | None,
    runner: Any,
    title: str,
    chaos: Any = None,
) -> int:
    from wavectl.local.engine import LocalCloud
    from wavectl.status import build_status, print_status

    started = time.monotonic()
    _quiet_task_logs()
    synth_seconds = ensure_assembly(runbook, assembly)
    with LocalCloud(runbook, assembly, speed=_speed(speed), chaos=chaos) as cloud:
        out.print(
            f"{title}: embedded AWS up ({len(cloud.resources.items)} resources from {assembly}, "
            f"speed {cloud.speed.describe()}, Slack at {cloud.slack.url})",
            highlight=False,
        )
        view = ProgressView(out)
        with view:
            runs = runner(cloud, on_progress=view.update, on_done=view.done)
        summary = _summary(runs, cloud, time.monotonic() - started)
        summary["synth_seconds"] = round(synth_seconds, 2)
        if chaos is not None:
            summary["chaos"] = chaos.summary()
            out.print(f"chaos: {_chaos_line(chaos)}", highlight=False)
        document = build_status(cloud.session, runbook, extra={"local": summary})
        print_status(document, out)
        if outdir is not None:
            for path in write_outputs(cloud, document, outdir):
                out.print(f"  wrote {path}", highlight=False)
    ok = all(run.succeeded for run in runs)
    out.print(
        f"{sum(r.succeeded for r in runs)}/{len(runs)} wave(s) SUCCEEDED"
        f" · wall {format_seconds(summary['wall_seconds'])}"
        f" · simulated {format_seconds(summary['simulated_seconds'])}",
        style="green" if ok else "red",
        highlight=False,
    )
    return EXIT_OK if ok else EXIT_FAILURE


def _chaos_line(chaos: Any) -> str:
    injected = ", ".join(f"{count} {kind}" for kind, count in sorted(chaos.injected.items())) or "none"
    return (
        f"{chaos.calls} task AWS calls, faults injected: {injected} "
        f"(rate {chaos.rate}, kill rate {chaos.kill_rate}, seed {chaos.seed})"
    )


# ----------------------------------------------------------------------------- commands


def run(
    wave: Annotated[str, typer.Argument(help="the wave to run")],
    local: Annotated[
        bool, typer.Option("--local", help="run on the embedded AWS (the only mode of `run`)")
    ] = False,
    runbooks: Runbooks = Path("runbooks"),
    assembly: Assembly = LOCAL_ASSEMBLY,
    speed: SpeedOption = "fast",
    outdir: Annotated[
        Path | None, typer.Option("--out", help="also write status.json/html and slack.jsonl")
    ] = None,
    deps: Annotated[bool, typer.Option("--deps/--no-deps", help="run the waves it depends on first")] = True,
) -> None:
    """Run one wave end to end on the embedded AWS, with live progress; gates answered as approvers would.

    Example: wavectl run --local orders-db
    """
    if not local:
        err.print(
            "`wavectl run` rehearses on the embedded AWS: add --local (on AWS use `wavectl start WAVE`)"
        )
        raise typer.Exit(EXIT_INVALID)
    from wavectl.local.runner import run_wave, run_with_dependencies

    runbook = _load(runbooks)
    known_wave_or_exit(runbook, wave)

    def runner(cloud: Any, on_progress: Any, on_done: Any) -> list[Any]:
        if deps:
            return run_with_dependencies(cloud, wave, on_progress=on_progress, on_done=on_done)
        result = run_wave(cloud, wave, on_progress=on_progress)
        on_done(result)
        return [result]

    raise typer.Exit(_run_locally(runbook, assembly, speed, outdir, runner, f"run --local {wave}"))


def demo(
    outdir: Annotated[
        Path, typer.Option("--out", help="where status.json, status.html, slack.jsonl go")
    ] = Path("out/demo"),
    speed: SpeedOption = "fast",
    runbooks: Runbooks = Path("runbooks"),
    assembly: Assembly = LOCAL_ASSEMBLY,
    chaos: Annotated[
        float,
        typer.Option(
            "--chaos",
            min=0.0,
            max=0.9,
            help="inject faults into this fraction of the tasks' AWS calls (throttling, 5xx, timeouts after "
            "the call was processed) and kill a quarter as many task invocations after their side effects; "
            "every wave must still end as without faults",
        ),
    ] = 0.0,
    seed: Annotated[int, typer.Option("--seed", help="seed of the --chaos fault draws")] = 0,
    wave_timeout: Annotated[
        float,
        typer.Option(
            "--wave-timeout",
            min=10.0,
            help="real seconds a wave may run before it is stopped as Wavectl.LocalTimeout "
            "(raise it on a slow or busy machine)",
        ),
    ] = 300.0,  # wavectl.local.runner.DEFAULT_TIMEOUT_SECONDS (not imported: it pulls boto3 into --help)
) -> None:
    """Rehearse the whole program offline: synth if stale, seed, run every wave in dependency order.

    Each approval gate is answered as its configured approvers would (signed Slack clicks). Prints the
    status table and writes DIR/status.json, DIR/status.html and DIR/slack.jsonl.

    Example: wavectl demo --out out/demo ; wavectl demo --chaos 0.2 --seed 7
    """
    from wavectl.local.chaos import Chaos
    from wavectl.local.runner import run_program

    runbook = _load(runbooks)
    faults = Chaos(rate=chaos, seed=seed) if chaos > 0 else None
    runner = functools.partial(run_program, timeout=wave_timeout)
    raise typer.Exit(_run_locally(runbook, assembly, speed, outdir, runner, "demo", faults))


@local_app.command("up")
def local_up(
    port: Port = None,
    speed: SpeedOption = "fast",
    runbooks: Runbooks = Path("runbooks"),
    assembly: Assembly = LOCAL_ASSEMBLY,
    auto_approve: Annotated[
        bool, typer.Option("--auto-approve", help="answer gates as the configured approvers would")
    ] = False,
    gate_minutes: Annotated[
        float,
        typer.Option(
            "--gate-minutes",
            min=0.1,
            help="approval gates stay open at least this many real minutes (never longer than their "
            "runbook timeout), so there is time to answer them by hand; other waits stay compressed",
        ),
    ] = DEFAULT_GATE_MINUTES,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="also print the access log (one line per request)")
    ] = False,
) -> None:
    """Keep the embedded AWS running on 127.0.0.1 with the program deployed, until Ctrl-C.

    Prints one line per execution event (started, ended) and per approval (requested, decided).

    Then, in another shell: `wavectl start WAVE --local`, `wavectl status --local`, and the approval
    commands; or any AWS CLI/SDK with AWS_ENDPOINT_URL=http://127.0.0.1:PORT and fake credentials.
    """
    from wavectl.local.client import local_port
    from wavectl.local.engine import LocalCloud
    from wavectl.local.watch import watch_forever

    runbook = _load(runbooks)
    _quiet_task_logs()
    ensure_assembly(runbook, assembly)
    with LocalCloud(runbook, assembly, speed=_speed(speed).with_gates_open(gate_minutes * 60)) as cloud:
        url = cloud.serve(local_port(port), access_log=verbose)
        _print_endpoints(cloud, url)
        stop = threading.Event()
        threading.Thread(target=watch_forever, args=(cloud, _event_line, stop), daemon=True).start()
        if auto_approve:
            threading.Thread(target=_approve_forever, args=(cloud, stop), daemon=True).start()
        try:
            while True:
                time.sleep(0.5)
        except KeyboardInterrupt:
            out.print("stopping the embedded AWS")
        finally:
            stop.set()


def _event_line(text: str) -> None:
    out.print(text, highlight=False, markup=False, soft_wrap=True)


def _print_endpoints(cloud: Any, url: str) -> None:
    out.print(f"embedded AWS for {cloud.runbook.program.program} on {url} (Ctrl-C stops it)", highlight=False)
    out.print(f"  local Slack:      {cloud.slack.url}", highlight=False)
    out.print(f"  Slack endpoint:   POST {cloud.slack_interactions_url} (as API Gateway)", highlight=False)
    out.print(
        f"  Slack channel:    {cloud.slack_page_url} (open it to approve or reject as any approver)",
        highlight=False,
    )
    out.print(
        f"  time:             {cloud.speed.describe()}; gates stay open at least "
        f"{format_seconds(cloud.speed.min_callback_timeout)} real time",
        highlight=False,
    )
    out.print(f"  tooling account:  {cloud.accounts.tooling} ({cloud.region})", highlight=False)
    out.print(f"  state machines:   {', '.join(sorted(cloud.resources.state_machines))}", highlight=False)
    out.print(
        f"  AWS CLI:          AWS_ENDPOINT_URL={url} AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing "
        f"aws stepfunctions list-state-machines --region {cloud.region}",
        highlight=False,
        soft_wrap=True,
    )
    out.print("  next:             wavectl start WAVE --local ; wavectl status --local", highlight=False)


def _approve_forever(cloud: Any, stop: threading.Event) -> None:
    from wavectl.local.runner import gate_answerer

    answer = gate_answerer(cloud)
    sfn = cloud.session.client("stepfunctions")
    while not stop.wait(0.2):
        for arn in cloud.resources.state_machines.values():
            for execution in sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING")["executions"]:
                answer(execution["executionArn"])
