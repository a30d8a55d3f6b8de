"""Verification of a restored database against its source's snapshot-time numbers and the runbook.

A query with `expect` is an absolute check of the restored database. A query without it compares
the restored database with the number the same query gave on the source *when the snapshot was
taken* (`capture: at_snapshot`, run by the snapshot task just before it starts the snapshot), never
with the live source, which keeps changing. A query that cannot run (no Data API, no secret, an
error) fails the verification unless the runbook marks it `optional: true`; then it is reported as
"not verified: REASON", never as passed.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from tasks.common.errors import VerificationFailed
from tasks.common.estate import Estate
from tasks.common.settings import setting
from tasks.contracts import ENV_DB_VERIFY_HOOK
from tasks.db_snapshot_copy import rds
from tasks.db_snapshot_copy.dataapi import DataApiHook, QueryNotRun

# hook(query, db, side) -> the query's result as text; side is "source" or "target"
QueryHook = Callable[[dict[str, Any], dict[str, Any], str], str]


def load_hook(estate: Estate | None = None) -> QueryHook | None:
    """The deployment's verify-query runner (`module:function`), else the built-in Data API hook.

    A hook raises `QueryNotRun` to say why a query cannot run (reported, never counted as passed).
    """
    target = setting(ENV_DB_VERIFY_HOOK, "")
    if not target:
        return DataApiHook(estate) if estate is not None else None
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def _check(name: str, expected: Any, actual: Any) -> dict[str, Any]:
    return {"check": name, "ok": expected == actual, "expected": expected, "actual": actual}


NOT_VERIFIED = "not verified"


def capture_at_snapshot(db: dict[str, Any], hook: QueryHook | None) -> dict[str, dict[str, str]]:
    """Run the comparison queries (those without `expect`) on the source, now: at snapshot time.

    Returns {query name: {"value": text}} or {query name: {"not_captured": reason}}.
    """
    captured: dict[str, dict[str, str]] = {}
    for query in db.get("verify", []):
        if query.get("expect") is not None:
            continue
        try:
            if hook is None:
                raise QueryNotRun("no verify hook")
            captured[query["name"]] = {"value": hook(query, db, "source")}
        except QueryNotRun as reason:
            captured[query["name"]] = {"not_captured": str(reason)}
        except ClientError as error:
            captured[query["name"]] = {"not_captured": _client_error(error)}
    return captured


def _client_error(error: ClientError) -> str:
    return "error: " + str(error.response.get("Error", {}).get("Message", error))


def verify_database(
    estate: Estate, db: dict[str, Any], hook: QueryHook | None, captured: dict[str, Any] | None = None
) -> dict[str, Any]:
    client = estate.target("rds", db["target_region"])
    restored = rds.describe_database(client, db["type"], db["id"])
    if restored is None:
        raise VerificationFailed(f"{db['id']}: restored {db['type']} not found in the target")
    db = {**db, "target_arn": restored.get("DBClusterArn") or restored.get("DBInstanceArn")}
    checks = _configuration_checks(db, restored) + _class_checks(client, db, restored)
    queries = [_run_query(query, db, hook, captured or {}) for query in db.get("verify", [])]
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
        lines = "; ".join(_failure(c) for c in failed)
        raise VerificationFailed(f"{db['id']}: {len(failed)} verification check(s) failed: {lines}")
    return record


def _failure(check: dict[str, Any]) -> str:
    if str(check["actual"]).startswith(NOT_VERIFIED):
        return f"{check['check']}: {check['actual']}"
    if "source" in check:  # a query compared on source and target
        return f"{check['check']}: source {check['source']!r}, target {check['actual']!r}"
    return f"{check['check']}: expected {check['expected']!r}, got {check['actual']!r}"


def _summary(db: dict[str, Any], record: dict[str, Any], checks: list[dict], queries: list[dict]) -> str:
    passed = sum(1 for c in checks if c["ok"])
    text = f"{db['id']} ({db['type']}, {db['target_region']}): {passed}/{len(checks)} checks passed"
    if queries:
        text += f", {sum(1 for q in queries if q['ok'])}/{len(queries)} queries matched"
        unverified = sum(1 for q in queries if q["ok"] is None)
        if unverified:
            text += f", {unverified} not verified"
        text += " (" + "; ".join(_query_line(q) for q in queries) + ")"
    return f"{text}, key {record['kms_key']}"


def _query_line(query: dict[str, Any]) -> str:
    name = query["check"].removeprefix("query ")
    if str(query["actual"]).startswith(NOT_VERIFIED):
        return f"{name}: {query['actual']}"
    sign = "=" if query["ok"] else "!="
    if "source" in query:
        return f"{name}: source at snapshot {query['source']} {sign} target {query['actual']}"
    return f"{name}: expected {query['expected']} {sign} target {query['actual']}"


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


def _run_query(
    query: dict[str, Any], db: dict[str, Any], hook: QueryHook | None, captured: dict[str, Any]
) -> dict[str, Any]:
    name, expect = f"query {query['name']}", query.get("expect")
    try:
        if expect is None:
            source = _captured_value(query, captured)
        if hook is None:
            raise QueryNotRun("no verify hook")
        target = hook(query, db, "target")
    except QueryNotRun as reason:
        return _not_verified(name, query, expect, str(reason))
    except ClientError as error:  # the query was meant to run and could not
        return _not_verified(name, query, expect, _client_error(error))
    if expect is not None:
        return _check(name, expect, target)
    return {**_check(name, source, target), "source": source, "source_at": "snapshot"}


def _captured_value(query: dict[str, Any], captured: dict[str, Any]) -> str:
    found = captured.get(query["name"])
    if found is None:
        raise QueryNotRun("no source number was captured at snapshot time")
    if "not_captured" in found:
        raise QueryNotRun(
            f"the source number could not be captured at snapshot time ({found['not_captured']})"
        )
    return str(found["value"])


def _not_verified(name: str, query: dict[str, Any], expect: Any, reason: str) -> dict[str, Any]:
    """A query that could not run: a failed check, unless the runbook marks it optional."""
    optional = bool(query.get("optional"))
    return {"check": name, "ok": None if optional else False, "expected": expect,
            "actual": f"{NOT_VERIFIED}: {reason}", "optional": optional}  # fmt: skip
