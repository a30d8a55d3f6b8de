"""An embedded AWS with one independent single-gate wave named api-dns: gate "go" (2 of platform, 2 h),
then a Pass. It is a placeholder-kind wave (the real api-dns is a dns-cutover with several gates), so
the approval mechanics are tested on exactly one gate."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from typing import Any

from tests.conftest import RUNBOOKS

SINGLE_GATE_WAVE = """\
wave: api-dns
kind: decommission
version: 1
depends_on: []
approval: {group: platform, required: 2, timeout: 2h, remind_after: 30m}
decommission:
  regions: [eu-west-1]
  tag_key: wavectl:decommission
  tag_value: acme-legacy
  resource_types: ["s3:bucket"]
"""


@contextlib.contextmanager
def gate_cloud(tmp_path_factory: Any, speed: str = "fast") -> Iterator[Any]:
    from wavectl.local.engine import LocalCloud
    from wavectl.runbook import load_runbook
    from wavectl.synth import synthesize

    root = tmp_path_factory.mktemp("gate-runbook")
    (root / "waves").mkdir()
    shutil.copy(RUNBOOKS / "program.yaml", root / "program.yaml")
    (root / "waves" / "02-api-dns.yaml").write_text(SINGLE_GATE_WAVE)
    runbook = load_runbook(root)
    assembly = root / "cdk.out"
    synthesize(runbook, assembly, bundle=False)
    with LocalCloud(runbook, assembly, speed=speed, seed_estate=False) as local:
        yield local
