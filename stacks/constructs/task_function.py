"""One construct for every task Lambda: Python on arm64, Powertools logging, own log group and role."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import (
    AssetHashType,
    BundlingOptions,
    DockerImage,
    Duration,
    ILocalBundling,
    RemovalPolicy,
)
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from wavectl.packaging import has_wheels, install_command
from wavectl.paths import PROJECT_ROOT, TASKS_DIR, WHEELHOUSE

RUNTIME = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE = lambda_.Architecture.ARM_64
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
                f"no Lambda wheels in {WHEELHOUSE}: run `make install` (or `python -m wavectl.packaging`), "
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


class TaskFunction(Construct):
    """A task Lambda running `handler` (a dotted path inside `tasks/`)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function_name: str,
        handler: str,
        code: lambda_.Code,
        description: str,
        timeout: Duration,
        memory_mb: int = 256,
        environment: dict[str, str] | None = None,
        log_key: kms.IKey | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"/aws/lambda/{function_name}",
            retention=logs.RetentionDays.ONE_YEAR,
            encryption_key=log_key,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"wavectl task {function_name}",
        )
        self.log_group.grant_write(self.role)
        self.function = lambda_.Function(
            self,
            "Function",
            function_name=function_name,
            description=description,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=handler,
            code=code,
            timeout=timeout,
            memory_size=memory_mb,
            role=self.role,
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            environment={
                "POWERTOOLS_SERVICE_NAME": "wavectl",
                "POWERTOOLS_LOG_LEVEL": "INFO",
                **(environment or {}),
            },
        )
