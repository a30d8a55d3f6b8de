"""Every wave honours `dry_run: true`: it stops before its first change, with nothing changed."""

from __future__ import annotations

from pathlib import Path

from stacks.workflows.frame import DRY_RUN_CHOICE, NOTE_PREFIX
from tests.stacks.templates import wave_definitions

# The read-only states a wave may run before its dry-run exit (decommission: inventory, usage proof).
READ_ONLY_CHECKS = {"Check request", "Resolve requester", "Preflight", "Inventory", "Prove no use"}


def states_before(definition: dict, target: str) -> set[str]:
    """States reachable from StartAt without passing through `target`."""
    seen, todo = set(), [definition["StartAt"]]
    while todo:
        name = todo.pop()
        if name in seen or name == target:
            continue
        seen.add(name)
        state = definition["States"][name]
        todo += [c["Next"] for c in state.get("Choices", [])]
        todo += [n for n in (state.get("Next"), state.get("Default")) if n]
    return seen


def test_every_wave_stops_a_dry_run_before_any_approval_or_change(cloud_assembly: Path):
    for stack, definition in wave_definitions(cloud_assembly).items():
        states = definition["States"]
        # Given the wave's dry-run Choice
        choice = states[DRY_RUN_CHOICE]
        [when] = choice["Choices"]
        # Then dry_run: true ends the execution successfully there
        assert when == {"Variable": "$.request.dry_run", "BooleanEquals": True, "Next": when["Next"]}
        assert states[when["Next"]]["Type"] == "Succeed", stack
        # and nothing before it asks for an approval or is anything but the read-only checks
        before = states_before(definition, DRY_RUN_CHOICE)
        assert not any(name.startswith("Approval:") for name in before), stack
        # (notes in the execution's Slack thread change nothing: "started", "Preflight passed")
        assert {n for n in before if not n.startswith(NOTE_PREFIX)} <= READ_ONLY_CHECKS, (stack, before)
