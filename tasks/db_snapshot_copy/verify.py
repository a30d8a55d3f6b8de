"""Verification of a restored database against its source and the runbook."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from tasks.common.errors import VerificationFailed
from tasks.common.settings import setting
from tasks.contracts import ENV_DB_VERIFY_HOOK
from tasks.db_snapshot_copy import rds
from tasks.db_snapshot_copy.estate import Estate

# hook(query, db, side) -> the query's result as text; side is "source" or "target"
QueryHook = Callable[[dict[str, Any], dict[str, Any], str], str]


def load_hook() -> QueryHook | None:
    """The runbook's verify-query runner (`module:function`), when the deployment configured one."""
    target = setting(ENV_DB_VERIFY_HOOK, "")
    if not target:
        return None
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def _check(name: str, expected: Any, actual: Any) -> dict[str, Any]:
    return {"check": name, "ok": expected == actual, "expected": expected, "actual": actual}


def verify_database(estate: Estate, db: dict[str, Any], hook: QueryHook | None) -> dict[str, Any]:
    client = estate.target("rds", db["target_region"])
    restored = rds.describe_database(client, db["type"], db["id"])
    if restored is None:
        raise VerificationFailed(f"{db['id']}: restored {db['type']} not found in the target")
    checks = _configuration_checks(db, restored) + _class_checks(client, db, restored)
    queries = [_run_query(query, db, hook) for query in db.get("verify", [])]
    record = {
        "database": db["id"],
        "type": db["type"],
        "target_region": db["target_region"],
        "target_arn": restored.get("DBClusterArn") or restored.get("DBInstanceArn"),
        "kms_key": restored.get("KmsKeyId"),
        "checks": checks,
        "queries": queries,
    }
    failed = [c for c in checks + queries if c["ok"] is False]
    record["ok"] = not failed
    record["summary"] = _summary(db, record, checks, queries)
    if failed:
        lines = "; ".join(f"{c['check']}: expected {c['expected']!r}, got {c['actual']!r}" for c in failed)
        raise VerificationFailed(f"{db['id']}: {len(failed)} verification check(s) failed: {lines}")
    return record


def _summary(db: dict[str, Any], record: dict[str, Any], checks: list[dict], queries: list[dict]) -> str:
    passed = sum(1 for c in checks if c["ok"])
    ran = [q for q in queries if q["ok"] is not None]
    text = f"{db['id']} ({db['type']}, {db['target_region']}): {passed}/{len(checks)} checks passed"
    if queries:
        text += f", {sum(1 for q in ran if q['ok'])}/{len(queries)} queries matched"
        if len(ran) < len(queries):
            text += f" ({len(queries) - len(ran)} not run: no verify hook)"
    return f"{text}, key {record['kms_key']}"


def _configuration_checks(db: dict[str, Any], restored: dict[str, Any]) -> list[dict[str, Any]]:
    tags = {t["Key"]: t["Value"] for t in restored.get("TagList", [])}
    missing = {k: v for k, v in db.get("source_tags", {}).items() if tags.get(k) != v}
    checks = [
        _check("engine", db["engine"], restored.get("Engine")),
        _check("engine version", db["engine_version"], restored.get("EngineVersion")),
        _check("encrypted", True, restored.get("StorageEncrypted")),
        _check("encryption key is the target key", db["target_key_arn"], restored.get("KmsKeyId")),
        _check("deletion protection", True, restored.get("DeletionProtection")),
        _check("source tags carried", {}, missing),
    ]
    storage_type = db["target"].get("storage_type")
    if db["type"] == "instance" and storage_type:
        checks.append(_check("storage type", storage_type, restored.get("StorageType")))
    return checks


def _class_checks(client: Any, db: dict[str, Any], restored: dict[str, Any]) -> list[dict[str, Any]]:
    if db["type"] == "instance":
        wanted = db["target"].get("instance_class") or db.get("instance_class")
        return [_check("instance class", wanted, restored.get("DBInstanceClass"))]
    checks = []
    members = {m["DBInstanceIdentifier"] for m in restored.get("DBClusterMembers", [])}
    for member in db.get("members", []):
        found = rds.describe_instance(client, member["id"]) if member["id"] in members else None
        wanted = db["target"].get("instance_class") or member.get("class")
        actual = found.get("DBInstanceClass") if found else None
        checks.append(_check(f"instance class of {member['id']}", wanted, actual))
    return checks


def _run_query(query: dict[str, Any], db: dict[str, Any], hook: QueryHook | None) -> dict[str, Any]:
    name = f"query {query['name']}"
    if hook is None:
        return {
            "check": name,
            "ok": None,
            "expected": query.get("expect"),
            "actual": "not run: no verify hook",
        }
    target = hook(query, db, "target")
    expected = query.get("expect") if query.get("expect") is not None else hook(query, db, "source")
    return _check(name, expected, target)
