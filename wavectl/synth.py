"""Synthesis of the CDK app from the CLI (in-process: no `cdk` CLI, no credentials, no Docker)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from wavectl.paths import PROJECT_ROOT, configure_jsii_node
from wavectl.runbook import Runbook

FINGERPRINT_FILE = "wavectl-fingerprint.json"
_SOURCES = (
    "stacks",
    "tasks",
    "wavectl/runbook.py",
    "wavectl/model.py",
    "wavectl/kinds",
    "wavectl/yamlpos.py",
)


def source_fingerprint(runbook: Runbook, bundle: bool) -> str:
    """Digest of everything the cloud assembly is made from (runbooks + CDK code + task code)."""
    digest = hashlib.sha256(f"bundle={bundle}".encode())
    files = sorted(p for p in Path(runbook.root).rglob("*.y*ml"))
    for source in _SOURCES:
        path = PROJECT_ROOT / source
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    for path in files:
        digest.update(str(path.name).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def is_current(outdir: Path, runbook: Runbook, bundle: bool) -> bool:
    marker = outdir / FINGERPRINT_FILE
    if not marker.is_file():
        return False
    return json.loads(marker.read_text()).get("fingerprint") == source_fingerprint(runbook, bundle)


class OutdirNotAnAssembly(ValueError):
    """`--out` names a folder with other content: synth would have to delete it."""


def _clear_previous_assembly(outdir: Path) -> None:
    """Remove an earlier cloud assembly at `outdir`; refuse to delete a folder that is not one."""
    if not outdir.exists():
        return
    if not outdir.is_dir():
        raise OutdirNotAnAssembly(f"{outdir} is a file, not a folder for a cloud assembly")
    is_assembly = (outdir / "manifest.json").is_file() or (outdir / FINGERPRINT_FILE).is_file()
    if any(outdir.iterdir()) and not is_assembly:
        raise OutdirNotAnAssembly(
            f"{outdir} is not empty and holds no cloud assembly; choose an empty or new folder "
            "(synth replaces the folder's content)"
        )
    shutil.rmtree(outdir)


def synthesize(runbook: Runbook, outdir: Path, *, bundle: bool = True) -> list[Path]:
    """Write the cloud assembly to `outdir`; return the template files (one per stack).

    An earlier assembly at `outdir` is replaced; a folder with anything else in it is refused.
    """
    _clear_previous_assembly(outdir)
    configure_jsii_node()
    from aws_cdk import App

    from stacks.app import build_app

    app = App(outdir=str(outdir), context={"wavectl:bundle": "true" if bundle else "false"})
    build_app(app, runbook)
    app.synth()
    (outdir / FINGERPRINT_FILE).write_text(
        json.dumps({"fingerprint": source_fingerprint(runbook, bundle), "bundle": bundle}) + "\n"
    )
    return sorted(outdir.glob("*.template.json"))
