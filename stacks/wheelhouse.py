"""The arm64 wheels of `tasks/requirements.txt` for the Lambda asset: where they are, how pip gets them.

Standard library only, so `make install` can run `python -m stacks.wheelhouse` (download once)
without starting the CDK; bundling at synth then installs from there with `--no-index`.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TASKS_DIR = PROJECT_ROOT / "tasks"
# arm64 wheels of tasks/requirements.txt, downloaded by `make install` so bundling needs no network
WHEELHOUSE = PROJECT_ROOT / ".wheelhouse"

RUNTIME_PYTHON_VERSION = "3.14"
LAMBDA_PLATFORM = [
    # Lambda's Amazon Linux 2023 has glibc 2.34: manylinux up to 2_34 runs there (DuckDB ships 2_28 only)
    "--platform", "manylinux2014_aarch64", "--platform", "manylinux_2_28_aarch64",
    "--platform", "manylinux_2_34_aarch64", "--implementation", "cp",
    "--python-version", RUNTIME_PYTHON_VERSION, "--only-binary=:all:",
]  # fmt: skip
REQUIREMENTS = TASKS_DIR / "requirements.txt"


def wheelhouse_command(wheelhouse: Path = WHEELHOUSE) -> list[str]:
    return [
        sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
        *LAMBDA_PLATFORM, "--dest", str(wheelhouse), "-r", str(REQUIREMENTS),
    ]  # fmt: skip


def install_command(target: Path, wheelhouse: Path = WHEELHOUSE) -> list[str]:
    return [
        sys.executable, "-m", "pip", "install", "--quiet", "--no-compile", "--disable-pip-version-check",
        "--no-index", "--find-links", str(wheelhouse), *LAMBDA_PLATFORM,
        "--target", str(target), "-r", str(REQUIREMENTS),
    ]  # fmt: skip


def has_wheels(wheelhouse: Path = WHEELHOUSE) -> bool:
    return any(wheelhouse.glob("*.whl"))


if __name__ == "__main__":
    WHEELHOUSE.mkdir(exist_ok=True)
    subprocess.run(wheelhouse_command(), check=True)
