"""The demo estate of a `decommission` wave: the legacy Acme resources it retires, and what it must not.

Seeders run in dependency order and this wave comes last, so the source databases (db-snapshot-copy)
and the old payments bucket (payment-dual-run) are already there: they are tagged into the wave's
scope with their data class. `wavectl.local.estate_decommission` adds the rest of the legacy estate
(reports bucket, Lambdas in two regions, a batch instance, the old API load balancer, a sessions
table), a protected audit bucket and out-of-scope resources, the retention accounts' Object Lock
buckets, and idle CloudWatch datapoints for everything in scope so the usage proof has data.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wavectl.kinds.db_snapshot_copy import DbSnapshotCopyWave
from wavectl.kinds.decommission import DecommissionWave, task_spec
from wavectl.kinds.payment_dual_run import PaymentDualRunWave
from wavectl.local import estate_decommission as legacy
from wavectl.local.accounts import account_session

if TYPE_CHECKING:
    from wavectl.local.engine import LocalCloud

DATA_CLASS_TAG = "wavectl:data-class"


def seed(cloud: LocalCloud, wave: DecommissionWave) -> dict[str, Any]:
    scope = wave.decommission.scope
    source = cloud.accounts.source
    tag = (scope.tag.key, scope.tag.value) if scope.tag else ("wavectl:decommission", wave.wave)
    made = legacy.seed_legacy(account_session, source, tag, name_suffix=f"-{source}")
    for arn, data_class in _earlier_waves(cloud, scope.regions):
        legacy.tag_resource(account_session, source, arn, {tag[0]: tag[1], DATA_CLASS_TAG: data_class})
        made["in_scope"][arn.split(":")[-1]] = arn
    for arn in scope.arns:  # named by ARN (the weighted api record): in scope when it exists
        made["in_scope"][arn] = arn
    spec = task_spec(cloud.runbook.program, wave)
    _ensure_keys(cloud, spec["retention"])
    made["retention_buckets"] = legacy.seed_retention_buckets(account_session, spec["retention"])
    for arn in made["in_scope"].values():
        legacy.put_usage(account_session, source, arn)
    return made


def _earlier_waves(cloud: LocalCloud, regions: list[str]) -> list[tuple[str, str]]:
    """(ARN, data class) of the source databases and old payment buckets the earlier waves replaced."""
    found = []
    source = cloud.accounts.source
    for wave in cloud.runbook.waves:
        if isinstance(wave, DbSnapshotCopyWave):
            for db in wave.databases:
                if db.region in regions:
                    kind = "cluster" if db.type == "cluster" else "db"
                    found.append((f"arn:aws:rds:{db.region}:{source}:{kind}:{db.id}", db.data_class))
        elif isinstance(wave, PaymentDualRunWave):
            found.append((f"arn:aws:s3:::{wave.payments.old_bucket}", wave.payments.data_class))
    return found


def _ensure_keys(cloud: LocalCloud, rules: dict[str, dict[str, Any]]) -> None:
    """The shared key (source) and each retention account's key, where the db seeder did not make them."""
    from wavectl.local.seeders.db_snapshot_copy import shared_key_policy

    for rule in rules.values():
        if not rule.get("retain"):
            continue
        _key(
            cloud.accounts.source,
            rule["region"],
            rule["shared_kms_key"],
            shared_key_policy(cloud.accounts.source, rule["account"]),
        )
        _key(rule["account"], rule["region"], rule["kms_key"], None)


def _key(account: str, region: str, alias: str, policy: str | None) -> None:
    kms = account_session(account, region).client("kms")
    try:
        kms.describe_key(KeyId=alias)
        return
    except kms.exceptions.NotFoundException:
        pass
    key = kms.create_key(Description=f"wavectl {alias}", **({"Policy": policy} if policy else {}))[
        "KeyMetadata"
    ]
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
