"""The database wave's stages; names and ownership tags are common to every kind (tasks.common.naming)."""

from __future__ import annotations

import hashlib

from tasks.common.naming import TAG_DATABASE, TAG_EXECUTION, TAG_PROGRAM, TAG_STAGE, TAG_WAVE, Run, tag_dict

__all__ = ["TAG_DATABASE", "TAG_EXECUTION", "TAG_PROGRAM", "TAG_STAGE", "TAG_WAVE", "Run", "tag_dict"]

STAGE_SOURCE = "src"  # snapshot of the source database, source account, source region
STAGE_SHARED = "shr"  # copy under the shared key, source account, target region (shared)
STAGE_TARGET = "tgt"  # copy under the target-owned key, target account, target region

MAX_EXECUTION_NAME = 80


def child_execution_name(run: Run, database: str) -> str:
    """The name of `database`'s own execution of the per-database workflow, for this wave execution.

    Deterministic, so a redriven parent finds (StartExecution is idempotent for the same name and
    input) and compensation looks up exactly the children this execution started.
    """
    digest = hashlib.sha256(f"{run.execution}/{database}".encode()).hexdigest()[:12]
    head = "".join(c if c.isalnum() or c in "-_" else "-" for c in database)
    return f"{head[: MAX_EXECUTION_NAME - len(digest) - 1]}-{digest}"
