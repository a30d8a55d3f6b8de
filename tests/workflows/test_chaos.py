"""Fault injection (`wavectl demo --chaos P --seed S`): at P = 0.2 every wave still succeeds, and the
embedded accounts end exactly as after a run without faults.

The waves run are orders-db and payments-dual-run: 25 task functions between them, the approval
functions (request, callback), the frame (requester, guard), the evidence archive, every database step
on the success path (snapshots, copies, shares, restores, verification, cleanup, evidence: the
create-or-find side effects a lost response tests hardest), every dual-run step on its success path and
the bridge's acknowledgement poller. api-dns and decommission-acme take several times longer each and
are left to `wavectl demo --chaos 0.2` (docs/security.md says what was run).
"""

from __future__ import annotations

from typing import Any

import pytest

from wavectl.local import end_state
from wavectl.local.chaos import FAULT_KINDS, KILLED, Chaos
from wavectl.local.engine import LocalCloud
from wavectl.local.runner import run_wave

WAVES = ("orders-db", "payments-dual-run")  # in dependency order
RATE = 0.2
SEEDS = (4, 5)


def _rehearse(runbook, assembly, chaos: Chaos | None) -> tuple[dict[str, str], dict[str, Any]]:
    """Run WAVES in a fresh embedded AWS; each wave's status and the accounts' end state."""
    with LocalCloud(runbook, assembly, chaos=chaos) as cloud:
        statuses = {}
        for wave in WAVES:
            run = run_wave(cloud, wave)
            statuses[wave] = f"{run.status} {run.error or ''}".strip()
        return statuses, end_state.snapshot(cloud)


@pytest.fixture(scope="module")
def without_chaos(example_runbook, cloud_assembly) -> tuple[dict[str, str], dict[str, Any]]:
    return _rehearse(example_runbook, cloud_assembly, None)


def test_end_state_without_chaos_holds_what_the_waves_made(example_runbook, without_chaos):
    # Given the waves run without faults
    statuses, state = without_chaos
    # Then they succeeded, and the snapshot the chaos runs are compared with holds their results:
    # restored databases in the target account, evidence objects, acknowledged payment files
    assert statuses == dict.fromkeys(WAVES, "SUCCEEDED")
    target = example_runbook.program.accounts.target.id
    assert any(k.startswith(target) and "restored" in str(v) for k, v in state["rds"].items())
    assert any("approvals/orders-db" in str(objects) for objects in state["s3"].values())
    assert any(".ack.csv" in str(objects) for objects in state["s3"].values())


@pytest.mark.parametrize("seed", SEEDS)
def test_chaos_at_p02_ends_every_wave_succeeded_with_the_end_state_of_a_run_without_chaos(
    example_runbook, cloud_assembly, without_chaos, seed
):
    # Given faults in a fifth of the tasks' AWS calls (throttling, 5xx, responses lost after the call
    # was processed) and killed invocations after their side effects
    chaos = Chaos(rate=RATE, seed=seed)
    # When the same waves run
    statuses, state = _rehearse(example_runbook, cloud_assembly, chaos)
    # Then faults of every kind were injected, every wave SUCCEEDED, and the databases, snapshots,
    # records, evidence objects and delivered files are exactly those of the run without faults
    # (no duplicate, nothing orphaned, nothing missing)
    assert set(chaos.injected) >= {*FAULT_KINDS, KILLED}, chaos.summary()
    assert statuses == dict.fromkeys(WAVES, "SUCCEEDED"), chaos.summary()
    assert end_state.differences(without_chaos[1], state) == [], chaos.summary()
