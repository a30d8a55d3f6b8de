"""The wave kinds, as the `wavectl/` room knows them: one registration line per kind.

A kind's module (`wavectl/kinds/<kind>.py`) holds its runbook section model, its plan description
and its residency targets, and exports them as `SPEC`. See docs/architecture.md, "Adding a wave kind".
"""

from __future__ import annotations

from tasks.contracts import WaveKind
from wavectl.kinds import db_snapshot_copy, decommission, dns_cutover, payment_dual_run
from wavectl.kinds.spec import KindSpec

KINDS: dict[WaveKind, KindSpec] = {
    WaveKind.DB_SNAPSHOT_COPY: db_snapshot_copy.SPEC,
    WaveKind.DNS_CUTOVER: dns_cutover.SPEC,
    WaveKind.PAYMENT_DUAL_RUN: payment_dual_run.SPEC,
    WaveKind.DECOMMISSION: decommission.SPEC,
}


def kind_spec(kind: str) -> KindSpec:
    return KINDS[WaveKind(kind)]
