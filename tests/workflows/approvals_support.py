"""An embedded AWS with one independent gated wave (api-dns: gate "go", 2 of platform, then a Pass)."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from typing import Any

from tests.conftest import RUNBOOKS


@contextlib.contextmanager
def gate_cloud(tmp_path_factory: Any, speed: str = "fast") -> Iterator[Any]:
    from wavectl.local.engine import LocalCloud
    from wavectl.runbook import load_runbook
    from wavectl.synth import synthesize

    root = tmp_path_factory.mktemp("gate-runbook")
    (root / "waves").mkdir()
    shutil.copy(RUNBOOKS / "program.yaml", root / "program.yaml")
    wave = (RUNBOOKS / "waves" / "02-api-dns.yaml").read_text()
    (root / "waves" / "02-api-dns.yaml").write_text(wave.replace("depends_on: [orders-db]", "depends_on: []"))
    runbook = load_runbook(root)
    assembly = root / "cdk.out"
    synthesize(runbook, assembly, bundle=False)
    with LocalCloud(runbook, assembly, speed=speed, seed_estate=False) as local:
        yield local
