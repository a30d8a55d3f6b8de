"""Synth time of the example program and definition size per wave (bytes of resolved ASL)."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from wavectl.runbook import load_runbook
from wavectl.synth import synthesize


def main() -> None:
    runbook = load_runbook("runbooks")
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        templates = synthesize(runbook, Path(tmp) / "cdk.out", bundle=False)
        elapsed = time.perf_counter() - started
        print(f"synth (no bundling): {elapsed:.1f} s for {len(templates)} stacks")
        for template in templates:
            resources = json.loads(template.read_text())["Resources"].values()
            for resource in resources:
                if resource["Type"] == "AWS::StepFunctions::StateMachine":
                    size = len(json.dumps(resource["Properties"]["DefinitionString"]))
                    print(f"  {template.name.removesuffix('.template.json')}: definition {size} bytes")


if __name__ == "__main__":
    main()
