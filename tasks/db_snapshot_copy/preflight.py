"""Preflight: every reason the wave cannot run, found before anything is touched.

Read-only (Describe*/Get* calls only). Every problem of every database is collected and reported
at once in `Wavectl.PreflightFailed`, one line each, with what to do about it.
"""

from __future__ import annotations

from typing import Any

from tasks.common.backoff import DEFAULT_CLUSTER_GIB
from tasks.common.errors import PreflightFailed
from tasks.common.estate import Estate
from tasks.db_snapshot_copy import rds
from tasks.db_snapshot_copy.naming import Run, child_execution_name

DEFAULT_RDS_ALIAS = "alias/aws/rds"
KEY_USE_ACTIONS = ("kms:Decrypt", "kms:CreateGrant", "kms:DescribeKey")


class Findings:
    def __init__(self) -> None:
        self.problems: list[str] = []

    def add(self, db: dict[str, Any], message: str) -> None:
        self.problems.append(f"{db['id']} ({db['type']}): {message}")


def run_preflight(
    estate: Estate, run: Run, databases: list[dict[str, Any]], residency: dict[str, list[str]]
) -> dict[str, Any]:
    findings = Findings()
    items = [_check_database(estate, run, db, residency, findings) for db in databases]
    if findings.problems:
        count = len(findings.problems)
        raise PreflightFailed(
            f"{count} problem{'s' if count > 1 else ''} found; nothing was changed:\n- "
            + "\n- ".join(findings.problems)
        )
    return {"databases": items, "count": len(items)}


def _check_database(
    estate: Estate, run: Run, db: dict[str, Any], residency: dict[str, list[str]], findings: Findings
) -> dict[str, Any]:
    _check_residency(db, residency, findings)
    source = _check_source(estate, db, findings)
    shared_key = _check_shared_key(estate, db, findings)
    target = _check_target(estate, run, db, findings)
    return {**db, **source, **target, "shared_key_arn": shared_key,
            "child_execution": child_execution_name(run, db["id"])}  # fmt: skip


def _check_residency(db: dict[str, Any], residency: dict[str, list[str]], findings: Findings) -> None:
    allowed = residency.get(db["data_class"])
    if allowed is None:
        findings.add(db, f"data class {db['data_class']} has no residency rule in the program")
    elif db["target_region"] not in allowed:
        findings.add(
            db,
            f"target_region {db['target_region']} is not allowed for data class {db['data_class']} "
            f"(allowed: {', '.join(allowed)}); choose one of those regions",
        )


# ----------------------------------------------------------------------------- source


def _check_source(estate: Estate, db: dict[str, Any], findings: Findings) -> dict[str, Any]:
    where = f"account {estate.source_account} {db['region']}"
    found = rds.describe_database(estate.source("rds", db["region"]), db["type"], db["id"])
    if found is None:
        findings.add(db, f"source {db['type']} {db['id']} not found in {where}")
        return {}
    status = found.get("Status") or found.get("DBInstanceStatus")
    if status != "available":
        findings.add(db, f"source {db['type']} is {status!r}, not 'available'; wait until it is")
    if db["type"] == "cluster" and not found.get("StorageEncrypted"):
        findings.add(
            db,
            "source cluster is not encrypted and an unencrypted Aurora snapshot cannot be copied "
            "encrypted: restore it into an encrypted cluster first",
        )
    return _source_facts(estate, db, found)


def _source_facts(estate: Estate, db: dict[str, Any], found: dict[str, Any]) -> dict[str, Any]:
    tags = {t["Key"]: t["Value"] for t in found.get("TagList", []) if not t["Key"].startswith("aws:")}
    facts: dict[str, Any] = {
        "engine": found["Engine"],
        "engine_version": found.get("EngineVersion"),
        "source_kms_key": found.get("KmsKeyId"),
        "source_tags": tags,
        "source_arn": found.get("DBClusterArn") or found.get("DBInstanceArn"),
    }
    if db["type"] == "instance":
        facts["size_gib"] = db.get("size_gib") or found.get("AllocatedStorage") or 1
        facts["instance_class"] = found.get("DBInstanceClass")
        facts["storage_type"] = found.get("StorageType")
        facts["members"] = []
        return facts
    # Aurora reports AllocatedStorage 1: the runbook's size_gib, else a default size
    facts["size_gib"] = db.get("size_gib") or max(found.get("AllocatedStorage") or 0, DEFAULT_CLUSTER_GIB)
    facts["size_guessed"] = not db.get("size_gib")  # waits then get the long deadline floor
    source_rds = estate.source("rds", db["region"])
    facts["members"] = [
        {
            "id": m["DBInstanceIdentifier"],
            "writer": m.get("IsClusterWriter", False),
            "class": _class_of(source_rds, m["DBInstanceIdentifier"]),
        }
        for m in found.get("DBClusterMembers", [])
    ]
    return facts


def _class_of(source_rds: Any, instance_id: str) -> str | None:
    member = rds.describe_instance(source_rds, instance_id)
    return member.get("DBInstanceClass") if member else None


# ----------------------------------------------------------------------------- shared key


def _check_shared_key(estate: Estate, db: dict[str, Any], findings: Findings) -> str | None:
    """The shared key must exist where the shared copy is made: the target region (source account).

    The source snapshot stays under the source database's own key; the copy under the shared key is
    made into the target region (cross-region there), so only the target region needs the shared key.
    """
    key = _shared_key_in(estate, db, db["shared_kms_key"], db["target_region"], findings)
    return key["Arn"] if key is not None else None


def _shared_key_in(
    estate: Estate, db: dict[str, Any], alias: str, region: str, findings: Findings
) -> dict[str, Any] | None:
    where = f"account {estate.source_account} {region}"
    kms = estate.source("kms", region)
    if alias == DEFAULT_RDS_ALIAS:
        findings.add(db, _default_key_message(alias, where, estate.target_account))
        return None
    key = rds.describe_key(kms, alias)
    if key is None:
        findings.add(db, f"shared_kms_key {alias} not found in {where}; create it there")
        return None
    if key.get("KeyManager") == "AWS":
        findings.add(db, _default_key_message(alias, where, estate.target_account))
        return None
    if key.get("KeyState") != "Enabled":
        findings.add(db, f"shared_kms_key {alias} in {where} is {key.get('KeyState')}, not Enabled")
    if not _grants_use(rds.key_policy(kms, key["KeyId"]), estate.target_account):
        findings.add(
            db,
            f"shared_kms_key {alias} in {where} is not granted to the target account "
            f"{estate.target_account}: add a key policy statement allowing "
            f"arn:aws:iam::{estate.target_account}:root {', '.join(KEY_USE_ACTIONS)}",
        )
    return key


def _default_key_message(alias: str, where: str, target_account: str) -> str:
    return (
        f"shared_kms_key {alias} in {where} is the AWS-managed default RDS key: a snapshot encrypted "
        f"with it cannot be shared with another account. Fix: create a customer-managed KMS key whose "
        f"key policy lets account {target_account} use it, and name its alias in shared_kms_key"
    )


def _grants_use(policy: dict[str, Any], account: str) -> bool:
    for statement in _as_list(policy.get("Statement")):
        if statement.get("Effect") != "Allow" or not _names_account(statement.get("Principal"), account):
            continue
        actions = {a.lower() for a in _as_list(statement.get("Action"))}
        if "kms:*" in actions or "*" in actions:
            return True
        if all(action.lower() in actions for action in ("kms:Decrypt", "kms:CreateGrant")):
            return True
    return False


def _names_account(principal: Any, account: str) -> bool:
    if principal == "*":
        return False  # a public key policy is not a grant we rely on
    aws = principal.get("AWS") if isinstance(principal, dict) else None
    return any(p in (account, f"arn:aws:iam::{account}:root") for p in _as_list(aws))


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


# ----------------------------------------------------------------------------- target


def _check_target(estate: Estate, run: Run, db: dict[str, Any], findings: Findings) -> dict[str, Any]:
    region, target = db["target_region"], db["target"]
    where = f"target account {estate.target_account} {region}"
    target_rds = estate.target("rds", region)
    key = rds.describe_key(estate.target("kms", region), target["kms_key"])
    if key is None:
        findings.add(db, f"target kms_key {target['kms_key']} not found in {where}")
    elif key.get("KeyState") != "Enabled":
        findings.add(db, f"target kms_key {target['kms_key']} in {where} is {key.get('KeyState')}")
    if not rds.subnet_group_exists(target_rds, target["subnet_group"]):
        findings.add(db, f"target subnet_group {target['subnet_group']} not found in {where}")
    group = target.get("parameter_group")
    if group and not rds.parameter_group_exists(target_rds, db["type"], group):
        kind = "cluster parameter group" if db["type"] == "cluster" else "parameter group"
        findings.add(db, f"target {kind} {group} not found in {where}")
    groups = rds.security_group_ids(estate.target("ec2", region), target.get("security_groups", []))
    for name, group_id in groups.items():
        if group_id is None:
            findings.add(db, f"target security group {name} not found in {where}")
    _check_name_free(target_rds, run, db, where, findings)
    return {
        "target_key_arn": key["Arn"] if key else None,
        "security_group_ids": [g for g in groups.values() if g],
    }


def _check_name_free(target_rds: Any, run: Run, db: dict[str, Any], where: str, findings: Findings) -> None:
    existing = rds.describe_database(target_rds, db["type"], db["id"])
    if existing is not None and not run.owns(existing.get("TagList")):
        findings.add(
            db,
            f"{where} already has a {db['type']} named {db['id']} that this execution did not create; "
            "remove or rename it first",
        )
