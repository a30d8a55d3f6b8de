"""A day too big for one Lambda: hash partitions in the work bucket, one reconcile per partition in a
Step Functions Distributed Map, then one merge. The merged outputs are byte-identical to one
unpartitioned run (tasks.payments.reconcile.merge_results; a workflow test holds this).

Work bucket layout, per execution and cycle (`prefix`): `in/old/part-NNNNN/*.parquet` and
`in/new/part-NNNNN/*.parquet` (the prepared sides, key and minor units computed once), and
`out/part-NNNNN/<outputs>` (each partition's summary and CSVs).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from tasks.common.settings import setting
from tasks.contracts import ENV_DUAL_RUN_WORK_BUCKET, ENV_KMS_KEY
from tasks.payment_dual_run.daily import OUTPUT_FILES, outcome, rules_of, store_outputs
from tasks.payment_dual_run.estate import Estate
from tasks.payment_dual_run.files import file_locations
from tasks.payments.reconcile import merge_results, partition, partition_path, reconcile

MB = 1024 * 1024
SIDES = {"old": "old", "ack": "new"}  # file side -> reconcile side


def plan(estate: Estate, cycle: dict[str, Any]) -> dict[str, Any]:
    """Sizes of the day's two files (HeadObject) and whether the day is reconciled in partitions."""
    sizes = {}
    for side, (bucket, key) in file_locations(estate.spec, cycle["day"]).items():
        sizes[side] = int(estate.s3_for(side).head_object(Bucket=bucket, Key=key)["ContentLength"])
    total = sum(sizes.values())
    partitioned = total > int(estate.spec["partition_above_mb"]) * MB
    return {
        "partitioned": partitioned,
        "bytes": total,
        "partitions": int(estate.spec["partitions"]) if partitioned else 1,
    }


def work_prefix(execution: str, cycle: dict[str, Any]) -> str:
    return f"{execution}/cycle-{int(cycle['index']):02d}-{cycle['day']}/"


def _work_bucket() -> str:
    return setting(ENV_DUAL_RUN_WORK_BUCKET)


def _put_extra() -> dict[str, Any]:
    kms_key = setting(ENV_KMS_KEY, "") or None
    return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key} if kms_key else {}


def _upload_tree(s3: Any, folder: Path, prefix: str) -> None:
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        key = prefix + path.relative_to(folder).as_posix()
        s3.put_object(Bucket=_work_bucket(), Key=key, Body=path.read_bytes(), **_put_extra())


def _download_tree(s3: Any, prefix: str, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=_work_bucket(), Prefix=prefix):
        for item in page.get("Contents", []):
            target = folder / item["Key"][len(prefix) :]
            target.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(_work_bucket(), item["Key"], str(target))


def partition_day(estate: Estate, cycle: dict[str, Any], execution: str, partitions: int) -> dict[str, Any]:
    """Both files partitioned by a hash of the key into the work bucket; the Distributed Map's items."""
    prefix = work_prefix(execution, cycle)
    rules, work_s3 = rules_of(estate.spec), estate.client("own", "s3")
    with tempfile.TemporaryDirectory(prefix="dual-run-partition-") as work:
        folder = Path(work)
        for side, (bucket, key) in file_locations(estate.spec, cycle["day"]).items():
            local = folder / f"{side}{Path(key).suffix or '.csv'}"
            estate.s3_for(side).download_file(bucket, key, str(local))
            parts = folder / SIDES[side]
            partition(local, parts, partitions, rules)
            local.unlink()
            _upload_tree(work_s3, parts, f"{prefix}in/{SIDES[side]}/")
    return {"prefix": prefix, "items": [{"index": index} for index in range(partitions)]}


def reconcile_partition(estate: Estate, prefix: str, index: int) -> dict[str, Any]:
    """One partition pair reconciled; its outputs to `out/part-NNNNN/` of the work bucket."""
    s3 = estate.client("own", "s3")
    part = partition_path(Path(), index).as_posix()
    with tempfile.TemporaryDirectory(prefix="dual-run-part-") as work:
        folder = Path(work)
        for side in ("old", "new"):
            _download_tree(s3, f"{prefix}in/{side}/{part}/", folder / side)
        out = folder / "out"
        summary = reconcile(folder / "old", folder / "new", out, rules_of(estate.spec))
        _upload_tree(s3, out, f"{prefix}out/{part}/")
    return {"index": index, "clean": bool(summary["clean"])}


def merge_day(
    estate: Estate, cycle: dict[str, Any], prefix: str, partitions: int, evidence: str
) -> dict[str, Any]:
    """The partitions' outputs merged into the day's outputs, stored in evidence like an unpartitioned day."""
    s3 = estate.client("own", "s3")
    with tempfile.TemporaryDirectory(prefix="dual-run-merge-") as work:
        folder = Path(work)
        outputs = []
        for index in range(partitions):
            part = partition_path(folder / "parts", index)
            part.mkdir(parents=True)
            for name in OUTPUT_FILES:
                key = f"{prefix}out/{part.name}/{name}"
                s3.download_file(_work_bucket(), key, str(part / name))
            outputs.append(part)
        out = folder / "out"
        summary = merge_results(outputs, out, rules_of(estate.spec))
        store_outputs(estate, out, evidence)
        return outcome(cycle, summary, out, evidence)
