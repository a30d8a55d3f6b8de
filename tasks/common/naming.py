"""Idempotent names and ownership tags, for every wave kind: a retried task finds what its execution made.

Every resource a wave creates is named from (wave, resource, stage, execution) and tagged with the
execution that made it. Compensation and cleanup delete a resource only when both its name and its
`wavectl:execution` tag say this execution made it. (The database wave's tag key for the resource is
`wavectl:database`, kept for what is already deployed.)
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

TAG_PROGRAM = "wavectl:program"
TAG_WAVE = "wavectl:wave"
TAG_EXECUTION = "wavectl:execution"
TAG_DATABASE = "wavectl:database"
TAG_STAGE = "wavectl:stage"

_INVALID = re.compile(r"[^a-z0-9-]+")
_HYPHENS = re.compile(r"-{2,}")
MAX_IDENTIFIER = 63


@dataclass(frozen=True)
class Run:
    """Which execution of which wave is acting."""

    program: str
    wave: str
    execution: str

    @property
    def digest(self) -> str:
        return hashlib.sha256(f"{self.program}/{self.wave}/{self.execution}".encode()).hexdigest()[:10]

    def snapshot_name(self, database: str, stage: str) -> str:
        """`wavectl-<wave>-<db>-<stage>-<digest>`: a valid RDS identifier (letters, digits, hyphens)."""
        suffix = f"-{stage}-{self.digest}"
        head = _clean(f"wavectl-{self.wave}-{database}")[: MAX_IDENTIFIER - len(suffix)].rstrip("-")
        return head + suffix

    def tags(self, database: str, stage: str) -> list[dict[str, str]]:
        return [
            {"Key": TAG_PROGRAM, "Value": self.program},
            {"Key": TAG_WAVE, "Value": self.wave},
            {"Key": TAG_EXECUTION, "Value": self.execution},
            {"Key": TAG_DATABASE, "Value": database},
            {"Key": TAG_STAGE, "Value": stage},
        ]

    def owns(self, tags: Iterable[Mapping[str, str]] | None) -> bool:
        """True when the tags say this wave's execution created the resource."""
        found = tag_dict(tags)
        return found.get(TAG_EXECUTION) == self.execution and found.get(TAG_WAVE) == self.wave


def tag_dict(tags: Iterable[Mapping[str, str]] | None) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in tags or []}


def _clean(value: str) -> str:
    cleaned = _HYPHENS.sub("-", _INVALID.sub("-", value.lower())).strip("-")
    return cleaned if cleaned[:1].isalpha() else f"w{cleaned}"
