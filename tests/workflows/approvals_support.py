"""An embedded AWS with one independent single-gate wave named api-dns: gate "go" (2 of platform, 2 h),
then a Pass, so the approval mechanics are tested on exactly one gate. Its file is a valid wave of a
real kind; the fixture builds its body as that one gate (a test-only builder, patched in for this
fixture's synth)."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from typing import Any
from unittest import mock

from tasks.contracts import WaveKind
from tests.conftest import RUNBOOKS


def single_gate_wave() -> str:
    """A decommission wave file named api-dns (valid under its model) that this fixture builds as one gate."""
    text = (RUNBOOKS / "waves" / "04-decommission.yaml").read_text()
    text = text.replace("wave: decommission-acme", "wave: api-dns")
    text = text.replace("depends_on: [api-dns, payments-dual-run]", "depends_on: []")
    return text.replace(
        "approval: {group: platform, required: 2, timeout: 1d, remind_after: 4h, escalate_after: 8h, "
        "escalate_to: payments}",
        "approval: {group: platform, required: 2, timeout: 2h, remind_after: 30m}",
    )


def single_gate_body(ctx: Any) -> Any:
    """The body this fixture builds instead of the kind's own: the dry-run exit, gate "go", one Pass."""
    from aws_cdk import aws_stepfunctions as sfn

    from stacks.workflows.approval_gate import approval_gate
    from stacks.workflows.frame import dry_run_exit, fail_with_caught_error

    gate = approval_gate(
        ctx,
        "go",
        summary=f"Start wave {ctx.wave.wave}",
        on_failure=fail_with_caught_error(ctx, "Not approved"),
    )
    done = sfn.Pass(ctx.scope, "Gate passed", comment="the approval mechanics are all this wave tests")
    return dry_run_exit(ctx, "input, freeze window and dependency checks").next(gate).next(done)


@contextlib.contextmanager
def gate_cloud(tmp_path_factory: Any, speed: str = "fast") -> Iterator[Any]:
    from stacks.workflows import BUILDERS
    from wavectl.local.engine import LocalCloud
    from wavectl.runbook import load_runbook
    from wavectl.synth import synthesize

    root = tmp_path_factory.mktemp("gate-runbook")
    (root / "waves").mkdir()
    shutil.copy(RUNBOOKS / "program.yaml", root / "program.yaml")
    (root / "waves" / "02-api-dns.yaml").write_text(single_gate_wave())
    runbook = load_runbook(root)
    assembly = root / "cdk.out"
    with mock.patch.dict(BUILDERS, {WaveKind.DECOMMISSION: single_gate_body}):
        synthesize(runbook, assembly, bundle=False)
    with LocalCloud(runbook, assembly, speed=speed, seed_estate=False) as local:
        yield local
