"""The demo estate of each wave kind, seeded into the embedded AWS: one registration line per kind.

A seeder is `seed(cloud, wave) -> dict` (what it made, for tests and the demo's summary). They run in
the waves' dependency order, so a later wave's seeder sees what earlier ones made.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tasks.contracts import WaveKind
from wavectl.local.seeders import db_snapshot_copy, decommission, dns_cutover, payment_dual_run

if TYPE_CHECKING:
    from wavectl.local.engine import LocalCloud

Seeder = Callable[["LocalCloud", Any], dict[str, Any]]

SEEDERS: dict[WaveKind, Seeder] = {
    WaveKind.DB_SNAPSHOT_COPY: db_snapshot_copy.seed,
    WaveKind.DNS_CUTOVER: dns_cutover.seed,
    WaveKind.PAYMENT_DUAL_RUN: payment_dual_run.seed,
    WaveKind.DECOMMISSION: decommission.seed,
}
