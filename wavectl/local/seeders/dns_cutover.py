"""The demo estate of a `dns-cutover` wave in the embedded AWS."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wavectl.kinds.dns_cutover import DnsCutoverWave
from wavectl.local.seeders.common import client

if TYPE_CHECKING:
    from wavectl.local.engine import LocalCloud


def seed(cloud: LocalCloud, wave: DnsCutoverWave) -> dict[str, Any]:
    """The hosted zone (source account), both targets' A records and health checks, the weighted record
    at 100% old / 0% new, and the wave's alarms in state OK (moto never evaluates them)."""
    dns = wave.dns
    route53 = client(cloud, cloud.accounts.source, "route53")
    zone_id = route53.create_hosted_zone(Name=dns.zone, CallerReference=f"wavectl-{wave.wave}")["HostedZone"][
        "Id"
    ].split("/")[-1]
    addresses = {dns.old_target: "198.51.100.10", dns.new_target: "203.0.113.20"}
    checks = {target: _health_check(route53, target, ip) for target, ip in addresses.items()}
    changes = [_a_record(target, ip, dns.ttl) for target, ip in addresses.items()]
    changes += [
        _weighted(dns.record, dns.old_target, "acme", 100, dns.ttl, checks[dns.old_target]),
        _weighted(dns.record, dns.new_target, "globex", 0, dns.ttl, checks[dns.new_target]),
    ]
    route53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": changes})
    alarms = [_alarm(cloud, wave, name) for name in dns.alarms]
    return {"zone_id": zone_id, "health_checks": checks, "alarms": alarms}


def _health_check(route53: Any, target: str, ip: str) -> str:
    return route53.create_health_check(
        CallerReference=f"wavectl-{target}",
        HealthCheckConfig={
            "IPAddress": ip,
            "Port": 443,
            "Type": "HTTPS",
            "ResourcePath": "/health",
            "FullyQualifiedDomainName": target,
            "RequestInterval": 30,
            "FailureThreshold": 3,
        },
    )["HealthCheck"]["Id"]


def _a_record(name: str, ip: str, ttl: int) -> dict[str, Any]:
    record = {"Name": name, "Type": "A", "TTL": ttl, "ResourceRecords": [{"Value": ip}]}
    return {"Action": "CREATE", "ResourceRecordSet": record}


def _weighted(name: str, target: str, identifier: str, weight: int, ttl: int, check: str) -> dict[str, Any]:
    record = {
        "Name": name,
        "Type": "CNAME",
        "SetIdentifier": identifier,
        "Weight": weight,
        "TTL": ttl,
        "ResourceRecords": [{"Value": target}],
        "HealthCheckId": check,
    }
    return {"Action": "CREATE", "ResourceRecordSet": record}


def _alarm(cloud: LocalCloud, wave: DnsCutoverWave, name: str) -> str:
    cloudwatch = client(cloud, cloud.accounts.source, "cloudwatch", wave.region)
    cloudwatch.put_metric_alarm(**_alarm_args(name, wave, "latency" in name))
    cloudwatch.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="local rehearsal: healthy")
    return name


def _alarm_args(name: str, wave: DnsCutoverWave, latency: bool) -> dict[str, Any]:
    args: dict[str, Any] = {
        "AlarmName": name,
        "AlarmDescription": f"{wave.dns.record}: rolls the {wave.wave} shift back",
        "Namespace": "AWS/ApplicationELB",
        "MetricName": "TargetResponseTime" if latency else "HTTPCode_Target_5XX_Count",
        "Period": 60,
        "EvaluationPeriods": 3,
        "Threshold": 1.5 if latency else 5.0,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching",
    }
    args.update({"ExtendedStatistic": "p99"} if latency else {"Statistic": "Sum"})
    return args
