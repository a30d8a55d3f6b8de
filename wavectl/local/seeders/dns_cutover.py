"""The demo estate of a dns-cutover wave: the zone, its records, health checks and alarms.

In the zone's account (Acme's zone is in the source account): the hosted zone, an A record per
target, a health check per target, every record of the wave as a weighted pair at 100 % old / 0 % new
(the first as a weighted pair, the others as the plain record the wave converts, so the demo
exercises both), and every alarm in its account and region, state OK.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wavectl.kinds.dns_cutover import DnsCutoverWave, task_spec
from wavectl.local.dns_estate import seed_dns_zone

if TYPE_CHECKING:
    from wavectl.local.engine import LocalCloud


def seed(cloud: LocalCloud, wave: DnsCutoverWave) -> dict[str, Any]:
    spec = task_spec(wave)
    accounts = {"source": cloud.accounts.source, "target": cloud.accounts.target}

    def client_for(account: str, service: str, region: str) -> Any:
        return cloud.account_session(account).client(service, region_name=region)

    plain = [r["name"] for r in spec["records"][1:]]
    return seed_dns_zone(client_for, spec, accounts, plain=plain)
