"""The database wave's stages; names and ownership tags are common to every kind (tasks.common.naming)."""

from __future__ import annotations

from tasks.common.naming import TAG_DATABASE, TAG_EXECUTION, TAG_PROGRAM, TAG_STAGE, TAG_WAVE, Run, tag_dict

__all__ = ["TAG_DATABASE", "TAG_EXECUTION", "TAG_PROGRAM", "TAG_STAGE", "TAG_WAVE", "Run", "tag_dict"]

STAGE_SOURCE = "src"  # snapshot of the source database, source account, source region
STAGE_SHARED = "shr"  # copy under the shared key, source account, target region (shared)
STAGE_TARGET = "tgt"  # copy under the target-owned key, target account, target region
