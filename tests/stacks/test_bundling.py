"""Bundled task assets: tasks/ plus its Lambda (arm64) dependencies, built offline from the wheelhouse."""

from __future__ import annotations

from pathlib import Path

import pytest

from stacks.wheelhouse import has_wheels

pytestmark = pytest.mark.skipif(not has_wheels(), reason="no .wheelhouse: run `make install`")


@pytest.fixture(scope="module")
def bundled_assembly(tmp_path_factory, example_runbook) -> Path:
    from wavectl.synth import synthesize

    outdir = tmp_path_factory.mktemp("bundled") / "cdk.out"
    synthesize(example_runbook, outdir, bundle=True)
    return outdir


def test_bundled_asset_holds_tasks_and_their_dependencies_only(bundled_assembly: Path):
    # Given the program synthesised with bundling (what `cdk deploy` ships)
    [asset] = {p for p in bundled_assembly.glob("asset.*") if p.is_dir()}
    names = {p.name for p in asset.iterdir()}
    # Then the Lambda code is tasks/ plus the packages it imports at run time, built for Lambda
    assert {"tasks", "aws_lambda_powertools", "slack_sdk"} <= names
    # and none of the project's other code (CDK app, CLI, tests) nor the CDK itself
    assert not names & {"stacks", "wavectl", "tests", "aws_cdk", "runbooks", ".venv"}


def test_bundling_without_wheelhouse_says_what_to_do(monkeypatch, tmp_path: Path):
    from stacks import bundling

    monkeypatch.setattr(bundling, "has_wheels", lambda: False)
    with pytest.raises(bundling.WheelhouseMissing, match="run `make install`"):
        bundling.PipLocalBundling().try_bundle(str(tmp_path), None)
