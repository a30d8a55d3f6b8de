"""Shared fixtures: the example runbook and one synthesised cloud assembly per test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RUNBOOKS = ROOT / "runbooks"
EVENTS = Path(__file__).resolve().parent / "events"

# Never let a test reach a real AWS endpoint with real credentials.
for _name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
    os.environ.pop(_name, None)
os.environ["AWS_ACCESS_KEY_ID"] = "testing"
os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
os.environ.setdefault("AWS_DEFAULT_REGION", "eu-west-1")
os.environ["TZ"] = "UTC"


@pytest.fixture(scope="session")
def example_runbook():
    from wavectl.runbook import load_runbook

    return load_runbook(RUNBOOKS)


@pytest.fixture(scope="session")
def cloud_assembly(tmp_path_factory, example_runbook) -> Path:
    """The example program synthesised once per session (no bundling: fast, offline)."""
    from wavectl.synth import synthesize

    outdir = tmp_path_factory.mktemp("assembly") / "cdk.out"
    synthesize(example_runbook, outdir, bundle=False)
    return outdir
