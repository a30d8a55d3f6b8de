"""The demo's source estate (Acme) and landing zone (Globex), seeded from the runbook's waves.

Each wave kind seeds its own part (`wavectl/local/seeders/`), in the waves' dependency order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tasks.contracts import WaveKind
from wavectl.local.seeders import SEEDERS

if TYPE_CHECKING:
    from wavectl.local.engine import LocalCloud


def seed_estate(cloud: LocalCloud) -> dict[str, Any]:
    """Seed every wave's resources; return what was made, by wave name."""
    return {wave.wave: SEEDERS[WaveKind(wave.kind)](cloud, wave) for wave in cloud.runbook.ordered_waves()}
