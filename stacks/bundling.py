"""The task functions' code asset: `tasks/` only, plus its third-party packages when bundled.

No Docker and no network at synth: the arm64 wheels come from `.wheelhouse/` (`stacks.wheelhouse`).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

from stacks.wheelhouse import PROJECT_ROOT, TASKS_DIR, WHEELHOUSE, has_wheels, install_command

# The asset holds tasks/ only (plus its third-party dependencies when bundled).
ASSET_EXCLUDES = ["*", ".*", "!tasks", "!tasks/**", "**/__pycache__", "**/*.pyc", "**/.pytest_cache"]
BUNDLE_CONTEXT_KEY = "wavectl:bundle"


class WheelhouseMissing(RuntimeError):
    """Bundling needs the Lambda wheels downloaded beforehand (`make install` does it)."""


@jsii.implements(ILocalBundling)
class PipLocalBundling:
    """Builds the task asset without Docker and without network: pip installs the arm64 wheels
    that `make install` downloaded into the wheelhouse, so synth itself never reaches an index."""

    def try_bundle(self, output_dir: str, _options: Any = None) -> bool:
        if not has_wheels():
            raise WheelhouseMissing(
                f"no Lambda wheels in {WHEELHOUSE}: run `make install` (or `python -m stacks.wheelhouse`), "
                "or synthesise with --no-bundle for a local rehearsal"
            )
        out = Path(output_dir)
        shutil.copytree(TASKS_DIR, out / "tasks", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        subprocess.run(install_command(out), check=True)
        return True


def task_code(bundle: bool) -> lambda_.Code:
    if not bundle:
        return lambda_.Code.from_asset(str(PROJECT_ROOT), exclude=ASSET_EXCLUDES)
    return lambda_.Code.from_asset(
        str(PROJECT_ROOT),
        exclude=ASSET_EXCLUDES,
        asset_hash_type=AssetHashType.SOURCE,  # output of pip is not byte-stable; the inputs are
        bundling=BundlingOptions(
            image=DockerImage.from_registry("public.ecr.aws/sam/build-python3.14"),  # never used
            local=PipLocalBundling(),
        ),
    )
