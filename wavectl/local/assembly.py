"""Reading a CDK cloud assembly (`cdk.out`): its stacks in deployment order, with their templates."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class StackArtifact:
    artifact_id: str
    stack_name: str
    account: str
    region: str
    template: dict[str, Any]
    dependencies: tuple[str, ...]

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return self.template.get("Resources", {})


def read_assembly(outdir: Path) -> list[StackArtifact]:
    """The stacks of `outdir/manifest.json`, each after the stacks it depends on."""
    manifest = json.loads((outdir / "manifest.json").read_text())
    stacks: dict[str, StackArtifact] = {}
    for artifact_id, artifact in manifest.get("artifacts", {}).items():
        if artifact.get("type") != "aws:cloudformation:stack":
            continue
        props = artifact["properties"]
        account, region = artifact["environment"].removeprefix("aws://").split("/")
        stacks[artifact_id] = StackArtifact(
            artifact_id=artifact_id,
            stack_name=props.get("stackName", artifact_id),
            account=account,
            region=region,
            template=json.loads((outdir / props["templateFile"]).read_text()),
            dependencies=tuple(artifact.get("dependencies", [])),
        )
    return _ordered(stacks)


def _ordered(stacks: dict[str, StackArtifact]) -> list[StackArtifact]:
    done: list[StackArtifact] = []
    placed: set[str] = set()
    remaining = sorted(stacks)
    while remaining:
        ready = [a for a in remaining if all(d in placed or d not in stacks for d in stacks[a].dependencies)]
        for artifact_id in ready or remaining[:1]:
            done.append(stacks[artifact_id])
            placed.add(artifact_id)
            remaining.remove(artifact_id)
    return done
