"""The demo's source estate (Acme) and landing zone (Globex), seeded from the runbook's waves.

- RDS (orders-db waves): `wavectl.local.estate_rds.seed_rds(...)` when that module exists (it owns
  the databases, their customer keys and the target network); otherwise a minimal stand-in here.
- DNS (dns-cutover waves): in the source account, the hosted zone with the weighted record the wave
  shifts (100% on the old target), A records of both targets, a health check per target, and the
  wave's CloudWatch alarms (state OK; moto never evaluates alarms, tests set them).
- Payments (payment-dual-run waves): `days` business days of payment files in the old platform's
  bucket (source account) and the same files from the new pipeline (target account), plus the
  empty secure-transfer bucket.
- Decommission waves: every source resource above carries the wave's decommission tag, plus a
  legacy reports bucket.
"""

from __future__ import annotations

import csv
import importlib
import inspect
import io
import json
import random
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from wavectl.runbook import DbSnapshotCopyWave, DecommissionWave, DnsCutoverWave, PaymentDualRunWave

if TYPE_CHECKING:
    from wavectl.local.engine import LocalCloud

FIRST_BUSINESS_DAY = date(2026, 11, 2)
PAYMENTS_PER_DAY = 40


def seed_estate(cloud: LocalCloud) -> dict[str, Any]:
    """Seed every wave's resources; return what was made, by wave kind."""
    estate: dict[str, Any] = {}
    tags = _decommission_tags(cloud)
    for wave in cloud.runbook.waves:
        if isinstance(wave, DbSnapshotCopyWave):
            estate.setdefault("rds", []).append(_seed_rds(cloud, wave, tags))
        elif isinstance(wave, DnsCutoverWave):
            estate["dns"] = seed_dns(cloud, wave)
        elif isinstance(wave, PaymentDualRunWave):
            estate["payments"] = seed_payments(cloud, wave, tags)
    estate["legacy"] = seed_legacy(cloud, tags)
    return estate


def _decommission_tags(cloud: LocalCloud) -> list[dict[str, str]]:
    for wave in cloud.runbook.waves:
        if isinstance(wave, DecommissionWave):
            return [{"Key": wave.decommission.tag_key, "Value": wave.decommission.tag_value}]
    return []


def _client(cloud: LocalCloud, account: str, service: str, region: str | None = None) -> Any:
    return cloud.account_session(account).client(service, region_name=region or cloud.region)


# ----------------------------------------------------------------------------- RDS


def _seed_rds(cloud: LocalCloud, wave: DbSnapshotCopyWave, tags: list[dict[str, str]]) -> dict[str, Any]:
    try:
        module = importlib.import_module("wavectl.local.estate_rds")
    except ModuleNotFoundError as exc:
        if exc.name != "wavectl.local.estate_rds":
            raise
        return seed_rds_stand_in(cloud, wave, tags)
    return _call_with_known_arguments(
        module.seed_rds, cloud=cloud, runbook=cloud.runbook, wave=wave, tags=tags
    )


def _call_with_known_arguments(function: Any, **available: Any) -> Any:
    """Call `function` with the arguments it names (the RDS seeder's signature is its author's)."""
    parameters = inspect.signature(function).parameters
    return function(**{name: value for name, value in available.items() if name in parameters})


def seed_rds_stand_in(
    cloud: LocalCloud, wave: DbSnapshotCopyWave, tags: list[dict[str, str]]
) -> dict[str, Any]:
    """Encrypted source databases (customer keys) when `estate_rds` is not there."""
    made: dict[str, Any] = {"instances": [], "clusters": []}
    for db in wave.databases:
        kms = _client(cloud, cloud.accounts.source, "kms", db.region)
        key = kms.create_key(Description=f"acme {db.id} database key")["KeyMetadata"]
        rds = _client(cloud, cloud.accounts.source, "rds", db.region)
        if db.type == "cluster":
            rds.create_db_cluster(
                DBClusterIdentifier=db.id,
                Engine="aurora-postgresql",
                MasterUsername="acme",
                MasterUserPassword="local-only-password",
                StorageEncrypted=True,
                KmsKeyId=key["Arn"],
                Tags=tags,
            )
            made["clusters"].append(db.id)
        else:
            rds.create_db_instance(
                DBInstanceIdentifier=db.id,
                DBInstanceClass="db.r6g.large",
                Engine="postgres",
                MasterUsername="acme",
                MasterUserPassword="local-only-password",
                AllocatedStorage=100,
                StorageEncrypted=True,
                KmsKeyId=key["Arn"],
                Tags=tags,
            )
            made["instances"].append(db.id)
    return made


# ----------------------------------------------------------------------------- DNS


def seed_dns(cloud: LocalCloud, wave: DnsCutoverWave) -> dict[str, Any]:
    dns = wave.dns
    route53 = _client(cloud, cloud.accounts.source, "route53")
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
    cloudwatch = _client(cloud, cloud.accounts.source, "cloudwatch", wave.region)
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


# ----------------------------------------------------------------------------- payments


def payment_days(days: int, first: date = FIRST_BUSINESS_DAY) -> list[date]:
    found, day = [], first
    while len(found) < days:
        if day.weekday() < 5:
            found.append(day)
        day += timedelta(days=1)
    return found


def payment_file(day: date, count: int = PAYMENTS_PER_DAY) -> bytes:
    """One day's payments as the old platform writes them (deterministic per day)."""
    rng = random.Random(day.toordinal())
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["payment_id", "value_date", "amount_cents", "currency", "debtor_iban", "creditor_iban"])
    for n in range(count):
        writer.writerow(
            [
                f"PAY-{day:%Y%m%d}-{n:05d}",
                day.isoformat(),
                rng.randint(100, 5_000_000),
                "EUR",
                f"IE{rng.randint(10, 99)}ACME{rng.randint(10**13, 10**14 - 1)}",
                f"DE{rng.randint(10, 99)}{rng.randint(10**17, 10**18 - 1)}",
            ]
        )
    return out.getvalue().encode()


def seed_payments(cloud: LocalCloud, wave: PaymentDualRunWave, tags: list[dict[str, str]]) -> dict[str, Any]:
    feed = wave.payments
    source = _client(cloud, cloud.accounts.source, "s3", feed.region)
    target = _client(cloud, cloud.accounts.target, "s3", feed.region)
    _bucket(source, feed.old_bucket, feed.region, tags)
    _bucket(target, feed.new_bucket, feed.region, [])
    _bucket(target, feed.transfer_bucket, feed.region, [])
    keys = []
    for day in payment_days(feed.days):
        key = f"{feed.prefix}{day:%Y/%m/%d}/payments.{feed.format}"
        body = payment_file(day) if feed.format == "csv" else _as_jsonl(payment_file(day))
        source.put_object(Bucket=feed.old_bucket, Key=key, Body=body)
        target.put_object(Bucket=feed.new_bucket, Key=key, Body=body)
        keys.append(key)
    return {"old_bucket": feed.old_bucket, "new_bucket": feed.new_bucket, "keys": keys}


def _as_jsonl(csv_bytes: bytes) -> bytes:
    rows = csv.DictReader(io.StringIO(csv_bytes.decode()))
    return "".join(json.dumps(row) + "\n" for row in rows).encode()


def _bucket(s3: Any, name: str, region: str, tags: list[dict[str, str]]) -> None:
    args: dict[str, Any] = {"Bucket": name}
    if region != "us-east-1":
        args["CreateBucketConfiguration"] = {"LocationConstraint": region}
    s3.create_bucket(**args)
    s3.put_bucket_encryption(
        Bucket=name,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]
        },
    )
    if tags:
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": tags})


def seed_legacy(cloud: LocalCloud, tags: list[dict[str, str]]) -> dict[str, Any]:
    """An old reports bucket nothing else uses: only the decommission wave cares about it."""
    if not tags:
        return {}
    name = f"acme-legacy-reports-{cloud.accounts.source}"
    s3 = _client(cloud, cloud.accounts.source, "s3")
    _bucket(s3, name, cloud.region, tags)
    s3.put_object(Bucket=name, Key="reports/2025/annual.pdf", Body=b"%PDF-1.4 local")
    return {"buckets": [name]}
