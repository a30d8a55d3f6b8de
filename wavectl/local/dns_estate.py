"""The DNS estate a dns-cutover wave shifts, in the embedded AWS (from the tasks' spec dict).

In the zone's account: the hosted zone, an A record for each target inside the zone, a health
check per target, and each record either as a weighted pair (old target at 100, new at 0, each
set with its target's health check) or, with `plain`, as the single record the wave converts.
In each alarm's account and region: the alarm, state OK (moto never evaluates alarms).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

ClientFor = Callable[[str, str, str], Any]  # (account id, service, region) -> administrator client
ADDRESSES = ("198.51.100.", "203.0.113.")  # documentation ranges: old targets, new targets
DEFAULT_TTLS = (300, 900, 600, 120)


def seed_dns_zone(
    client_for: ClientFor,
    spec: dict[str, Any],
    accounts: dict[str, str],
    *,
    plain: Collection[str] = (),
    ttls: dict[str, int] | None = None,
) -> dict[str, Any]:
    """Seed the zone, records, health checks and alarms of `spec`; `accounts` maps source/target to ids."""
    route53 = client_for(accounts[spec["zone_account"]], "route53", "us-east-1")
    zone_id = route53.create_hosted_zone(Name=spec["zone"], CallerReference=f"wavectl-{spec['zone']}")[
        "HostedZone"
    ]["Id"].rsplit("/", 1)[-1]
    checks: dict[str, str] = {}
    changes: list[dict[str, Any]] = []
    for n, record in enumerate(spec["records"]):
        ttl = (ttls or {}).get(record["name"], DEFAULT_TTLS[n % len(DEFAULT_TTLS)])
        for side, prefix in zip(("old", "new"), ADDRESSES, strict=True):
            target = record[f"{side}_target"]
            address = f"{prefix}{10 + n}"
            if target not in checks:
                checks[target] = _health_check(route53, target, address)
                if _inside(target, spec["zone"]):
                    changes.append(
                        _create(
                            {"Name": target, "Type": "A", "TTL": 300, "ResourceRecords": [{"Value": address}]}
                        )
                    )
        changes += _record_sets(record, ttl, checks, record["name"] in plain)
    route53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": changes})
    alarms = [
        _alarm(client_for(accounts[a["account"]], "cloudwatch", a["region"]), a["name"], spec)
        for a in spec["alarms"]
    ]
    return {"zone_id": zone_id, "health_checks": checks, "alarms": alarms}


def _inside(name: str, zone: str) -> bool:
    return name.rstrip(".").endswith("." + zone.rstrip("."))


def _create(rrset: dict[str, Any]) -> dict[str, Any]:
    return {"Action": "CREATE", "ResourceRecordSet": rrset}


def _record_sets(
    record: dict[str, Any], ttl: int, checks: dict[str, str], plain: bool
) -> list[dict[str, Any]]:
    def value(target: str) -> dict[str, Any]:
        if record["type"] in ("A", "AAAA"):
            return {
                "AliasTarget": {
                    "HostedZoneId": "Z32O12XQLNTSW2",
                    "DNSName": target,
                    "EvaluateTargetHealth": True,
                }
            }
        return {"TTL": ttl, "ResourceRecords": [{"Value": target}]}

    base = {"Name": record["name"], "Type": record["type"]}
    if plain:
        return [_create({**base, **value(record["old_target"])})]
    return [
        _create(
            {
                **base,
                **value(record[f"{side}_target"]),
                "SetIdentifier": identifier,
                "Weight": weight,
                "HealthCheckId": checks[record[f"{side}_target"]],
            }
        )
        for side, identifier, weight in (("old", "acme", 100), ("new", "globex", 0))
    ]


def _health_check(route53: Any, target: str, address: str) -> str:
    return route53.create_health_check(
        CallerReference=f"wavectl-{target}",
        HealthCheckConfig={
            "IPAddress": address,
            "Port": 443,
            "Type": "HTTPS",
            "ResourcePath": "/health",
            "FullyQualifiedDomainName": target,
            "RequestInterval": 30,
            "FailureThreshold": 3,
        },
    )["HealthCheck"]["Id"]


def _alarm(cloudwatch: Any, name: str, spec: dict[str, Any]) -> str:
    latency = "latency" in name
    args: dict[str, Any] = {
        "AlarmName": name,
        "AlarmDescription": f"{', '.join(r['name'] for r in spec['records'])}: rolls the DNS shift back",
        "Namespace": "AWS/ApplicationELB",
        "MetricName": "TargetResponseTime" if latency else "HTTPCode_Target_5XX_Count",
        "Period": 60,
        "EvaluationPeriods": 3,
        "Threshold": 1.5 if latency else 5.0,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching",
        **({"ExtendedStatistic": "p99"} if latency else {"Statistic": "Sum"}),
    }
    cloudwatch.put_metric_alarm(**args)
    cloudwatch.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="local rehearsal: healthy")
    return name
