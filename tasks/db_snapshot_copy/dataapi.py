"""The built-in verify-query hook: the runbook's queries through the RDS Data API.

For an Aurora cluster whose runbook entry names `verify_secret`, each query runs with
`rds-data:ExecuteStatement` on the source cluster (source account, the source secret) and on the
restored cluster (target account, the target secret), through the same assumed roles as every
other step. The restored cluster is a new cluster, so the Data API is enabled on it first
(`rds:EnableHttpEndpoint`); the source cluster's must already be on. RDS instances have no Data
API: their queries are reported "not run" with that reason, as are clusters without secrets.
"""

from __future__ import annotations

import json
from typing import Any

from tasks.common.estate import Estate
from tasks.db_snapshot_copy import rds


class QueryNotRun(Exception):
    """The query cannot run here; the message says why (shown to the approvers)."""


class DataApiHook:
    """`hook(query, db, side) -> result text`, side "source" or "target"."""

    def __init__(self, estate: Estate) -> None:
        self.estate = estate
        self._enabled: set[str] = set()

    def __call__(self, query: dict[str, Any], db: dict[str, Any], side: str) -> str:
        if db["type"] != "cluster":
            raise QueryNotRun(
                f"the RDS Data API serves Aurora clusters only and {db['id']} is an RDS instance "
                "(configure WAVECTL_DB_VERIFY_HOOK with a hook that can reach it)"
            )
        secrets = db.get("verify_secret") or {}
        if not secrets.get(side):
            raise QueryNotRun(f"no verify_secret.{side} for {db['id']} in the runbook")
        if side == "source":
            region, arn, connect = db["region"], db.get("source_arn"), self.estate.source
        else:
            region, arn, connect = db["target_region"], db.get("target_arn"), self.estate.target
            self._enable_data_api(db, arn)
        if not arn:
            raise QueryNotRun(f"the {side} cluster ARN of {db['id']} is not known")
        kwargs: dict[str, Any] = {"resourceArn": arn, "secretArn": secrets[side], "sql": query["sql"]}
        if secrets.get("database"):
            kwargs["database"] = secrets["database"]
        return result_text(connect("rds-data", region).execute_statement(**kwargs))

    def _enable_data_api(self, db: dict[str, Any], arn: str | None) -> None:
        if not arn or arn in self._enabled:
            return
        client = self.estate.target("rds", db["target_region"])
        cluster = rds.describe_cluster(client, db["id"])
        if cluster is not None and not cluster.get("HttpEndpointEnabled"):
            client.enable_http_endpoint(ResourceArn=arn)
        self._enabled.add(arn)


def _value(field: dict[str, Any]) -> Any:
    if field.get("isNull"):
        return None
    for key in ("longValue", "doubleValue", "stringValue", "booleanValue"):
        if key in field:
            return field[key]
    if "arrayValue" in field:
        return field["arrayValue"]
    return None if not field else next(iter(field.values()))


def result_text(response: dict[str, Any]) -> str:
    """One value as itself (`42`), several rows/columns as JSON, no rows as `(no rows)`."""
    rows = [[_value(f) for f in record] for record in response.get("records") or []]
    if not rows:
        return "(no rows)"
    if len(rows) == 1 and len(rows[0]) == 1:
        return str(rows[0][0])
    return json.dumps(rows, separators=(",", ":"), default=str)
