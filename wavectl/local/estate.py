"""The demo's source estate (Acme) and landing zone (Globex), seeded from the runbook's waves.

Each wave kind seeds its own part (`wavectl/local/seeders/`), in the waves' dependency order.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from tasks.contracts import WaveKind
from wavectl.local.seeders import SEEDERS

if TYPE_CHECKING:
    from wavectl.local.engine import LocalCloud


def seed_estate(cloud: LocalCloud, waves: Collection[str] | None = None) -> dict[str, Any]:
    """Seed every wave's resources (or only those of `waves`); return what was made, by wave name."""
    return {
        wave.wave: SEEDERS[WaveKind(wave.kind)](cloud, wave)
        for wave in cloud.runbook.ordered_waves()
        if waves is None or wave.wave in waves
    }
