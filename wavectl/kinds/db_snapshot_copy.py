"""Wave kind `db-snapshot-copy`: the runbook section (databases to copy into the target account)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from wavectl.kinds.spec import KindSpec
from wavectl.model import Model, Region, ResidencyTarget, WaveBase


class DatabaseTarget(Model):
    kms_key: str = Field(description="target-owned KMS key (alias/... or key ARN) the copy is encrypted with")
    subnet_group: str
    parameter_group: str | None = None
    security_groups: list[str] = Field(default_factory=list)
    instance_class: str | None = None
    storage_type: str | None = None


class VerifyQuery(Model):
    """A query run on the restored database: an absolute check (`expect`) or a comparison with the
    number the same query gave on the source when the snapshot was taken (`capture: at_snapshot`)."""

    name: str
    sql: str
    expect: str | None = Field(default=None, description="expected result on the restored database")
    capture: Literal["at_snapshot"] | None = Field(
        default=None,
        description="at_snapshot: run the query on the source just before the snapshot starts and compare "
        "the restored database with that number (a live source keeps changing after its snapshot)",
    )
    optional: bool = Field(
        default=False,
        description="a query that cannot run is reported 'not verified' instead of failing the verification",
    )

    @model_validator(mode="after")
    def _one_kind_of_check(self) -> VerifyQuery:
        if self.expect is None and self.capture is None:
            raise ValueError(
                f"verify query {self.name!r} needs `expect` (an absolute check) or `capture: at_snapshot` "
                "(compare with the source's number at snapshot time; the live source drifts)"
            )
        if self.expect is not None and self.capture is not None:
            raise ValueError(f"verify query {self.name!r}: `expect` and `capture` exclude each other")
        return self


class VerifySecrets(Model):
    """Secrets Manager secrets the verify queries run with through the RDS Data API (Aurora only)."""

    source: str = Field(description="ARN of the source cluster's database secret (source account)")
    target: str = Field(description="ARN of the restored cluster's database secret (target account)")
    database: str | None = Field(default=None, description="database name the queries run in")

    @field_validator("source", "target")
    @classmethod
    def _secret_arn(cls, value: str) -> str:
        if not (value.startswith("arn:") and ":secretsmanager:" in value and ":secret:" in value):
            raise ValueError("must be a Secrets Manager secret ARN (arn:aws:secretsmanager:...:secret:...)")
        return value


class Database(Model):
    id: str = Field(description="source DB instance or cluster identifier")
    type: Literal["instance", "cluster"] = "instance"
    region: Region
    target_region: Region
    data_class: str
    shared_kms_key: str = Field(description="source-account customer-managed key shared with the target")
    target: DatabaseTarget
    verify: list[VerifyQuery] = Field(default_factory=list)
    verify_secret: VerifySecrets | None = Field(
        default=None,
        description="secrets for running `verify` queries through the RDS Data API (Aurora clusters)",
    )
    size_gib: float | None = Field(
        default=None,
        gt=0,
        description="database size in GiB for the wait backoff (default: instance AllocatedStorage; "
        "Aurora, which reports 1 GiB, 100 GiB); set it for large clusters",
    )


class DbSnapshotCopyWave(WaveBase):
    kind: Literal["db-snapshot-copy"]
    max_concurrency: int = Field(default=2, ge=1, le=40)
    databases: list[Database] = Field(min_length=1)


def describe(wave: DbSnapshotCopyWave) -> str:
    lines = [
        f"{db.type} {db.id}: {db.region} -> {db.target_region}, re-encrypted under {db.target.kms_key} "
        f"({db.data_class})"
        for db in wave.databases
    ]
    return f"copy {len(wave.databases)} database(s), {wave.max_concurrency} at a time:\n" + "\n".join(lines)


def residency_targets(wave: DbSnapshotCopyWave) -> list[ResidencyTarget]:
    return [
        ResidencyTarget(("databases", i, "target_region"), "target_region", db.target_region, db.data_class)
        for i, db in enumerate(wave.databases)
    ]


SPEC = KindSpec(model=DbSnapshotCopyWave, describe=describe, residency_targets=residency_targets)
