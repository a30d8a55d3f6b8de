"""Inventory: every resource in scope (by tag and/or ARN, across regions), with its data class.

Read-only. A protected resource found in scope, a data store without a data class, or a data class
without a retention rule stops the wave before anything changes (`Wavectl.PreflightFailed`).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from botocore.exceptions import ClientError

from tasks.common.errors import PreflightFailed
from tasks.decommission import resources
from tasks.decommission.estate import Reach
from tasks.decommission.spec import DATA_CLASS_TAG, DATA_STORES, DYNAMODB_TABLE, PROTECTED_TAG, ROUTE53_RECORD


def scope_arns(reach: Reach, spec: dict[str, Any]) -> list[str]:
    """ARNs in scope now: the runbook's explicit ARNs plus everything carrying the scope tag."""
    types = list(spec["resource_types"])
    found: dict[str, None] = dict.fromkeys(spec.get("arns") or [])
    tag = spec.get("tag")
    if tag:
        for region in spec["regions"]:
            tagged = resources.tagged_arns(
                reach.source("resourcegroupstaggingapi", region), tag["key"], tag["value"], types
            )
            found.update(dict.fromkeys(arn for arn in tagged if _in_region(reach, arn, region)))
    return [arn for arn in found if resources.type_of(arn) in types]


def _in_region(reach: Reach, arn: str, region: str) -> bool:
    """Buckets have no region in their ARN: the tagging API of each region may list every bucket."""
    if resources.type_of(arn) != resources.S3_BUCKET:
        return True
    return (
        resources.bucket_region(reach.source("s3", resources.GLOBAL_REGION), resources.name_of(arn)) == region
    )


def read(reach: Reach, spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Describe every resource in scope (gone ones are skipped), classified; sorted by type and id."""
    items = []
    for arn in scope_arns(reach, spec):
        item = resources.describe(reach.source, arn)
        if item is None:
            continue
        item["data_class"] = item["tags"].get(spec.get("data_class_tag") or DATA_CLASS_TAG)
        item["protected"] = is_protected(spec, item)
        items.append(item)
    return sorted(items, key=lambda i: (i["type"], i["id"]))


def is_protected(spec: dict[str, Any], item: dict[str, Any]) -> bool:
    protected = spec.get("protected") or {}
    tag = protected.get("tag") or PROTECTED_TAG
    return item["id"] in (protected.get("arns") or []) or item["tags"].get(tag, "").lower() == "true"


def problems(spec: dict[str, Any], items: list[dict[str, Any]]) -> list[str]:
    found = []
    rules = spec.get("retention") or {}
    for item in items:
        what = f"{item['type']} {item['name']} ({item['id']})"
        if item["protected"]:
            found.append(f"{what} is protected but in scope: remove it from the scope (tag or ARN list)")
        if item["type"] in DATA_STORES and not item["data_class"]:
            found.append(f"{what} holds data but has no {DATA_CLASS_TAG} tag: classify it first")
        elif item["data_class"] and item["data_class"] not in rules:
            found.append(
                f"{what} is data class {item['data_class']}, which has no retention rule in the runbook"
            )
        retained = (rules.get(item["data_class"] or "") or {}).get("retain", True)
        if item["type"] == DYNAMODB_TABLE and item["data_class"] in rules and retained:
            found.append(
                f"{what}: DynamoDB retention copies are not supported; export the table to the "
                "retention bucket first and untag it"
            )
        if item["type"] == ROUTE53_RECORD and not item.get("weighted"):
            found.append(f"{what} is not a weighted record: it cannot be disabled by weight 0")
    return found


def take(reach: Reach, spec: dict[str, Any]) -> dict[str, Any]:
    """The inventory the gate shows and the deletion is held to; PreflightFailed on any problem."""
    items = read(reach, spec)
    found = problems(spec, items) + retention_problems(reach, spec, items)
    if found:
        raise PreflightFailed(
            f"{len(found)} problem(s) in the decommission scope; nothing was changed:\n- "
            + "\n- ".join(found)
        )
    return {"items": items, "count": len(items), "summary": summary(items)}


def summary(items: list[dict[str, Any]]) -> str:
    """`3 resources: 1 rds:db, 2 s3:bucket; 1.2 GiB; data classes eu-payments`."""
    if not items:
        return "nothing in scope"
    by_type = Counter(i["type"] for i in items)
    size = sum(i.get("size_bytes") or 0 for i in items)
    classes = sorted({i["data_class"] for i in items if i["data_class"]})
    text = f"{len(items)} resource(s): " + ", ".join(f"{n} {t}" for t, n in sorted(by_type.items()))
    text += f"; {size / resources.GIB:.1f} GiB"
    return text + (f"; data classes {', '.join(classes)}" if classes else "")


def retention_problems(reach: Reach, spec: dict[str, Any], items: list[dict[str, Any]]) -> list[str]:
    """Each retention bucket a class in scope needs must exist with Object Lock enabled."""
    classes = {i["data_class"] for i in items if i["type"] == resources.S3_BUCKET and i["data_class"]}
    found = []
    for data_class in sorted(classes):
        rule = (spec.get("retention") or {}).get(data_class) or {}
        if not rule.get("retain", True):
            continue
        where = f"retention bucket {rule['bucket']} (account {rule['account']} {rule['region']})"
        try:
            config = reach.retention(rule, "s3").get_object_lock_configuration(Bucket=rule["bucket"])
        except ClientError as error:
            found.append(
                f"{where} for {data_class}: {error.response['Error'].get('Code')}; create it with "
                "Object Lock enabled"
            )
            continue
        if config.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") != "Enabled":
            found.append(f"{where} for {data_class} does not have Object Lock enabled")
    return found
